// Child process of `npm run bench -- verify`: the real API process (runApiProcess, as server/main.ts
// runs it) whose usage recording the bench switches off and on between arms over IPC, so that
// `recording_ratio` compares one process with itself (issue 16: verification with usage recording
// on must stay within 5 % of the same process with it off). In one run a second process of the same
// code served a median of 1.28× the requests of the first (BENCHMARKS.md, "Recording priced in one
// process"): more than recording costs. Off, nothing is recorded and no limit is watched, as if the
// usage pipeline were not there.
import { createUsage, type Usage } from '../core/usage/index.js';
import { runApiProcess } from '../server/api-process.js';

let recording = true;
let usage: Usage | undefined;
process.on('message', (m: { recording?: unknown; buffered?: unknown }) => {
  // How many records the recorder still holds: the bench waits for none between arms.
  if (m.buffered === true) {
    process.send?.({ buffered: usage === undefined ? null : usage.recorder.buffered });
    return;
  }
  recording = m.recording === true;
  process.send?.({ recording });
});

await runApiProcess({
  createUsage: (deps) => {
    const made = createUsage(deps);
    usage = made;
    return {
      ...made,
      record: (input) => (recording ? made.record(input) : undefined),
      observeLimits: (o) => (recording ? made.observeLimits(o) : undefined),
      verification: (workspaceId, r, opts) => (recording ? made.verification(workspaceId, r, opts) : undefined),
    };
  },
});
