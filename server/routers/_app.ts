import { router } from '../trpc.js';
import { keysRouter } from './keys.js';
import { sessionRouter } from './session.js';
import { systemRouter } from './system.js';

/** One router per resource, merged here. */
export const appRouter = router({
  system: systemRouter,
  session: sessionRouter,
  keys: keysRouter,
});

export type AppRouter = typeof appRouter;
