import type { AnyRoute } from './route.js';
import { oauthRestRoutes } from './oauth.js';
import { healthRoute } from './system.js';
import { apiKeyRoutes } from './api-keys.js';
import { auditRoutes } from './audit.js';
import { workspaceRoutes } from './workspaces.js';
import { planRoutes } from './plans.js';
import { keyRotationRoutes } from './key-rotation.js';
import { verifyRoutes } from './verify.js';
import { usageRoutes } from './usage.js';
import { limitRequestRoutes } from './limit-requests.js';
import { webhookRestRoutes } from './webhook-routes.js';
import { portalRoutes } from './portal.js';
import { providerApiRoutes } from './provider-api.js';
import { playgroundSendRoutes } from './playground-send.js';
import { brandingRoutes } from './branding.js';

/**
 * Every REST route, in the order OpenAPI lists them. Each resource keeps its routes in its own file.
 * Verification comes first: Express tries routes in order, and it is the hot path.
 */
export const routes: AnyRoute[] = [...verifyRoutes, healthRoute, ...apiKeyRoutes, ...workspaceRoutes, ...planRoutes, ...auditRoutes, ...keyRotationRoutes, ...usageRoutes, ...limitRequestRoutes, ...webhookRestRoutes, ...portalRoutes, ...providerApiRoutes, ...playgroundSendRoutes, ...brandingRoutes, ...oauthRestRoutes];
