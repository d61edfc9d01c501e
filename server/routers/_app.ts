import { router } from '../trpc.js';
import { auditRouter } from './audit.js';
import { keysRouter } from './keys.js';
import { logsRouter } from './logs.js';
import { usageRouter } from './usage.js';
import { limitsRouter } from './limits.js';
import { sessionRouter } from './session.js';
import { systemRouter } from './system.js';
import { workspacesRouter } from './workspaces.js';
import { plansRouter } from './plans.js';
import { webhookRouters } from './webhook-routers.js';
import { portalRouter } from './portal.js';
import { providerApiRouter } from './provider-api.js';
import { brandingRouter } from './branding.js';
import { oauthRouter } from './oauth.js';

/** One router per resource, merged here. */
export const appRouter = router({
  system: systemRouter,
  session: sessionRouter,
  keys: keysRouter,
  workspaces: workspacesRouter,
  plans: plansRouter,
  audit: auditRouter,
  usage: usageRouter,
  limits: limitsRouter,
  logs: logsRouter,
  portal: portalRouter,
  providerApi: providerApiRouter,
  branding: brandingRouter,
  oauth: oauthRouter,
  ...webhookRouters,
});

export type AppRouter = typeof appRouter;
