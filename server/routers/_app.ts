import { router } from '../trpc.js';
import { systemRouter } from './system.js';

/** One router per resource, merged here. */
export const appRouter = router({
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
