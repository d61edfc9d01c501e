import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { frameAncestors } from '../../core/config.js';
import { hasScope } from '../../core/permissions.js';
import { authenticate } from '../auth/authenticate.js';
import type { Principal } from '../auth/principal.js';
import { assertIpAllowed } from '../auth/resolve.js';
import { authThrottle, AuthThrottle } from '../auth/throttle.js';
import {
  clearSessionCookie,
  closeSession,
  findSession,
  openSession,
  passesCsrfCheck,
  sessionToken,
  setSessionCookie,
  SIGN_IN_SCOPES,
} from '../auth/session.js';
import type { Context } from '../context.js';
import { publicProcedure, router } from '../trpc.js';

/** What the UI needs to know about who signed in; `canWrite` decides which controls are enabled. */
function describe(principal: Principal, expiresAt: Date | null) {
  return {
    workspaceId: principal.workspaceId,
    keyId: principal.keyId,
    scopes: [...principal.scopes].sort(),
    canWrite: hasScope(principal.scopes, 'keys:write') && hasScope(principal.scopes, 'webhooks:write'),
    expiresAt: expiresAt?.toISOString() ?? null,
    /** A customer-portal session's person (the header shows them instead of a key); absent for key sessions. */
    ...(principal.person && {
      person: { id: principal.person.id, email: principal.person.email, name: principal.person.name, role: principal.person.role },
      returnUrl: principal.person.returnUrl,
    }),
  };
}

function http(ctx: Context) {
  if (!ctx.http) throw new TRPCError({ code: 'BAD_REQUEST', message: 'Sessions need an HTTP request: call this through /trpc' });
  return ctx.http;
}

/** The admin UI's sign-in: an API key goes in once, an httpOnly session cookie comes out. */
export const sessionRouter = router({
  signIn: publicProcedure.input(z.object({ key: z.string().trim().min(1, 'Paste an API key').max(256) })).mutation(async ({ ctx, input }) => {
    const { req, res } = http(ctx);
    // Login CSRF: a cross-site page must not be able to sign a browser in to an attacker's workspace.
    if (!passesCsrfCheck(req)) throw new TRPCError({ code: 'FORBIDDEN', message: 'Sign in from the Gatehouse UI' });
    // Guessing through sign-in is throttled like guessing through x-api-key (server/auth/throttle.ts).
    const throttle = authThrottle(ctx);
    const wait = throttle.retryAfter(ctx.ip, input.key);
    if (wait > 0) {
      const refusal = AuthThrottle.refusal(wait);
      res.set(refusal.headers);
      throw refusal;
    }
    const principal = await authenticate(ctx.em, input.key, ctx.config.GATEHOUSE_KEY_PEPPER);
    if (!principal) {
      throttle.fail(ctx.ip, input.key);
      throw new TRPCError({ code: 'UNAUTHORIZED', message: 'That API key is not valid, or it has been revoked or has expired' });
    }
    assertIpAllowed(principal, ctx.ip);
    if (!SIGN_IN_SCOPES.every((s) => hasScope(principal.scopes, s))) {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'This key cannot sign in to the UI: it needs the read-only or admin permission' });
    }
    const session = await openSession(ctx.em, principal, input.key, ctx.config.GATEHOUSE_KEY_PEPPER);
    setSessionCookie(req, res, session, ctx.config);
    return describe(principal, session.expiresAt);
  }),

  signOut: publicProcedure.mutation(async ({ ctx }) => {
    const { req, res } = http(ctx);
    // Without it, any site could sign a Gatehouse user out with a cross-site form post.
    if (!passesCsrfCheck(req)) throw new TRPCError({ code: 'FORBIDDEN', message: 'Sign out from the Gatehouse UI' });
    const token = sessionToken(req);
    if (token) await closeSession(ctx.em, token);
    clearSessionCookie(req, res, ctx.config);
    return { signedOut: true };
  }),

  /**
   * Public, asked before any session exists: the origins allowed to frame the portal (as its CSP
   * says anyway), the only ones the UI posts its height and session end to (ui/src/lib/embed.ts).
   */
  embedding: publicProcedure.query(({ ctx }) => ({ frameAncestors: frameAncestors(ctx.config) })),

  /** The signed-in session, or null: the UI shows the sign-in page on null. */
  me: publicProcedure.query(async ({ ctx }) => {
    if (!ctx.principal) return null;
    const token = ctx.http ? sessionToken(ctx.http.req) : undefined;
    const session = token ? await findSession(ctx.em, token) : undefined;
    return describe(ctx.principal, session && session.principal.keyPk === ctx.principal.keyPk ? session.expiresAt : null);
  }),
});
