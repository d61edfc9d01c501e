import type { AnyRoute } from './route.js';
import { healthRoute } from './system.js';
import { verifyRoutes } from './verify.js';
import { keyRotationRoutes } from './key-rotation.js';

/** Every REST route, in the order OpenAPI lists them. Each resource keeps its routes in its own file. */
export const routes: AnyRoute[] = [healthRoute, ...keyRotationRoutes, ...verifyRoutes];
