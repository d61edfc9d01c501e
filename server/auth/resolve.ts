import type { Request } from 'express';
import type { ServerDeps } from '../context.js';
import { HttpError } from '../../core/errors.js';
import { authenticate } from './authenticate.js';
import type { Principal } from './principal.js';
import { principalFromSession } from './session.js';
import { authThrottle, AuthThrottle } from './throttle.js';

/** The x-api-key header, exactly once; a repeated header is refused rather than guessed at. */
export function apiKeyHeader(req: Request): string | undefined {
  const raw = req.headers['x-api-key'];
  if (Array.isArray(raw)) throw new HttpError(400, 'invalid_input', 'x-api-key header: send it exactly once', 'x-api-key');
  if (raw?.includes(',')) throw new HttpError(400, 'invalid_input', 'x-api-key header: send it exactly once', 'x-api-key');
  return raw?.trim() || undefined;
}

export const IP_NOT_ALLOWED = 'ip_not_allowed';
/** Says no more than that: which addresses a key allows is its owner's business. */
export const ipNotAllowed = () => new HttpError(403, IP_NOT_ALLOWED, 'This API key may not be used from this address');

/** Throws 403 when the principal's key has an IP allowlist that does not hold `ip`. */
export function assertIpAllowed(principal: Principal, ip: string | undefined): void {
  if (principal.allowlist && !principal.allowlist.allows(ip)) throw ipNotAllowed();
}

/**
 * `session` also accepts the UI's session cookie when no x-api-key header is sent: `true` for tRPC
 * (the CSRF header on every write), `'rest'` for REST, which the UI's playground calls as the
 * signed-in key: the CSRF header on every method, reads included, so a browser's cookie alone
 * (a form, a link, an `<img>`) never drives or reads a REST route.
 *
 * Either way the key's IP allowlist applies to the request's address (`req.ip`, which follows
 * X-Forwarded-For only from peers GATEHOUSE_TRUST_PROXY trusts). A secret that does not
 * authenticate counts against the address in the AuthThrottle; a throttled address is refused
 * before its secret is looked at.
 */
export async function resolvePrincipal(req: Request, deps: ServerDeps, opts: { session?: boolean | 'rest' } = {}): Promise<Principal | undefined> {
  const secret = apiKeyHeader(req);
  if (!secret) {
    if (!opts.session) return undefined;
    const principal = await principalFromSession(req, deps.orm.em.fork() as never, { csrfOnReads: opts.session === 'rest' });
    if (principal?.allowlist) assertIpAllowed(principal, req.ip);
    return principal;
  }
  return principalFromKey(secret, deps, req, expressIp);
}

const expressIp = (req: Request) => req.ip ?? '';

/**
 * The x-api-key half of resolvePrincipal, shared with the verify fast path (server/fast-verify.ts),
 * which has no Express request: `ipOf` reads the caller's address the way Express's `req.ip` does.
 * The address is read only when needed (a getter that parses X-Forwarded-For): the verification hot
 * path (a key without an allowlist, while nothing is failing) never reads it.
 */
export function principalFromKey<R>(
  secret: string,
  deps: Pick<ServerDeps, 'verifier'>,
  req: R,
  ipOf: (req: R) => string,
): Principal | undefined | Promise<Principal | undefined> {
  const throttle = authThrottle(deps);
  if (throttle.active) {
    const wait = throttle.retryAfter(ipOf(req), secret);
    if (wait > 0) throw AuthThrottle.refusal(wait);
  }
  const found = authenticate(deps.verifier, secret);
  // Without a promise when the key is cached (the verify path); throws, as the caller's await would, on a refusal.
  return found instanceof Promise ? found.then((principal) => admitted(principal, throttle, secret, req, ipOf)) : admitted(found, throttle, secret, req, ipOf);
}

function admitted<R>(principal: Principal | undefined, throttle: AuthThrottle, secret: string, req: R, ipOf: (req: R) => string): Principal | undefined {
  if (!principal) {
    throttle.fail(ipOf(req), secret);
    return undefined;
  }
  if (principal.allowlist) assertIpAllowed(principal, ipOf(req));
  return principal;
}
