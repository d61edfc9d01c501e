// Child process of `npm run bench -- verify`: the real API process (runApiProcess, as server/main.ts
// runs it) whose usage recording the bench switches off and on between arms over IPC, so that
// `recording_ratio` compares one process with itself (issue 16: verification with usage recording
// on must stay within 5 % of the same process with it off). In one run a second process of the same
// code served a median of 1.28× the requests of the first (BENCHMARKS.md, "Recording priced in one
// process"): more than recording costs. Off, nothing is recorded and no limit is watched, as if the
// usage pipeline were not there.
import { createUsage } from '../core/usage/index.js';
import { runApiProcess } from '../server/api-process.js';

let recording = true;
process.on('message', (m: { recording?: unknown }) => {
  recording = m.recording === true;
  process.send?.({ recording });
});

await runApiProcess({
  createUsage: (deps) => {
    const usage = createUsage(deps);
    return {
      ...usage,
      record: (input) => (recording ? usage.record(input) : undefined),
      observeLimits: (o) => (recording ? usage.observeLimits(o) : undefined),
      verification: (workspaceId, r, opts) => (recording ? usage.verification(workspaceId, r, opts) : undefined),
    };
  },
});
