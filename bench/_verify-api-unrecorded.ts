// Child process of `npm run bench -- verify`: the real API process, except that its usage
// pipeline records nothing, so the bench can price recording (issue: verification with usage
// recording on must stay within 5 % of it off).
import { createUsage } from '../core/usage/index.js';
import { runApiProcess } from '../server/api-process.js';

await runApiProcess({
  createUsage: (deps) => ({
    ...createUsage(deps),
    record: () => {},
    observeLimits: () => {},
    verification: () => {},
  }),
});
