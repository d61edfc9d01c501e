// Inside this repository `@gatehouse/client/app-router` is the server's own AppRouter (root
// tsconfig `paths`); the published package carries the declaration emit-router-types.ts writes.
export type { AppRouter } from '../../../server/routers/_app.js';
