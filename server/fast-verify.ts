import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Logger } from '../core/log.js';
import { hasScope } from '../core/permissions.js';
import { forbidden, unauthorized } from '../core/errors.js';
import type { ServerDeps } from './context.js';
import { principalFromKey } from './auth/resolve.js';
import type { Principal } from './auth/principal.js';
import { enforceCallerRateLimit, type HeaderSink } from './auth/rate-limit.js';
import { BODY_LIMIT_BYTES, errorAnswer, INTERNAL_ERROR } from './error-answer.js';
import type { ObserveRequest } from './metrics.js';
import { routeBody, writeJson } from './rest/register.js';
import { verification, verifyAnswer, verifyRoute, type verifyBody } from './rest/verify.js';
import { parseFailed, plainText } from './read-body.js';
import { API_HEADERS, JSON_CONTENT_TYPE, setHeaderList } from './security-headers.js';
import { recordCall, verificationRecord } from './usage-middleware.js';

/** Answers `true` when it took the request; anything else goes on to Express. */
export type FastHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface FastVerifyOptions {
  /** The app's deps after mountOperations: the usage pipeline that counts verification answers. */
  deps: ServerDeps;
  observe: ObserveRequest;
  /** The app's JSON body parser (express.json): bodies the fast reader leaves alone are read by it, errors and all. */
  json: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
  /** The caller's address, as Express's `req.ip` reads it (the app's trust proxy setting). */
  ipOf: (req: IncomingMessage) => string;
}

const PATH = verifyRoute.path;
const SCOPE = verifyRoute.scope!;

/**
 * `POST /v1/keys/verify` answered before Express: the hot path of every protected API, where
 * Express's router (a walk over every route and middleware) and its JSON parser's content-type and
 * charset parsing cost as much as the verification itself (BENCHMARKS.md).
 *
 * It takes exactly that method and path (no query string, no trailing slash) with an x-api-key
 * header; the UI's session calls, a missing or repeated key and every other route go to Express.
 * What it does is Express's route, step for step, through the same functions: the JSON parser's
 * limits and errors (bodies other than plain `application/json` with a length are handed to
 * express.json itself), the key's principal with the sign-in throttle and IP allowlist, the caller's
 * rate limits, the scope, the route's body schema, the verification (keys and access tokens), the
 * usage record, the security headers, the error shapes and the request-duration histogram. The
 * Express route stays mounted: it serves the requests above and is what /openapi.json describes.
 */
export function fastVerify(opts: FastVerifyOptions): FastHandler {
  const { deps, observe, json, ipOf } = opts;
  const log: Logger = deps.log;

  function readBody(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const text = plainText(req, JSON_TYPES, BODY_LIMIT_BYTES);
    if (text) return text.then(strictJson);
    return new Promise((resolve, reject) => json(req, res, (err) => (err ? reject(err) : resolve((req as { body?: unknown }).body))));
  }

  async function answer(req: IncomingMessage, res: ServerResponse, secret: string, start: number): Promise<void> {
    const headers = new AnswerHeaders();
    let principal: Principal | undefined;
    let recorded = false;
    try {
      // In Express's order: the body parser runs before the route authenticates.
      const sent = await readBody(req, res);
      // Awaited only when not answered from memory: each await of a plain value is a turn of the microtask queue.
      const found = principalFromKey(secret, deps, req, ipOf);
      principal = found instanceof Promise ? await found : found;
      if (!principal) throw unauthorized();
      const limited = enforceCallerRateLimit(deps.verifier, principal, headers, { selfCounting: true });
      if (limited) await limited;
      if (!hasScope(principal.scopes, SCOPE)) throw forbidden(SCOPE);
      const body = routeBody(verifyRoute, req.headers, sent) as z.output<typeof verifyBody>;
      const r = await verification(deps, principal.workspaceId, body, body.ip === undefined ? ipOf(req) : '');
      verificationRecord(deps.usage, principal.workspaceId, r, start, req.headers);
      recorded = true;
      headers.writeJson(res, 200, verifyAnswer(r));
    } catch (err) {
      headers.applyTo(res);
      const refusal = errorAnswer(err);
      if (refusal?.headers) for (const name in refusal.headers) res.setHeader(name, refusal.headers[name]!);
      if (!refusal) log.error({ err, method: req.method, path: PATH }, 'request failed');
      if (!res.headersSent) writeJson(res, refusal?.status ?? 500, refusal?.body ?? INTERNAL_ERROR);
    }
    observe('POST', PATH, res.statusCode, start);
    // As the usage middleware: a call that authenticated but was not verified stays in the request log.
    if (principal && !recorded) recordCall(deps.usage, principal, 'api', 'POST', PATH, res.statusCode, start);
  }

  return (req, res) => {
    if (req.method !== 'POST' || req.url !== PATH) return false;
    const key = req.headers['x-api-key'];
    // Absent, blank or repeated: the session path and the refusals are Express's.
    if (typeof key !== 'string' || key.includes(',')) return false;
    const secret = key.trim();
    if (!secret) return false;
    const start = performance.now();
    void answer(req, res, secret, start);
    return true;
  };
}

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8'];

/**
 * The answer's headers (API_HEADERS, then the caller's RateLimit-*), gathered in the list that
 * `writeHead` takes and written with the status at once: each `setHeader` validates the name, lowercases
 * it and stores it in the response's own map, and ten of them cost a request ~2 µs more than one list
 * (BENCHMARKS.md, 2026-12-05). An error answer gets them through `setHeader` as Express's would.
 */
class AnswerHeaders implements HeaderSink {
  readonly headersSent = false;
  private readonly list = API_HEADERS.slice();

  setHeader(name: string, value: string): void {
    this.list.push(name, value);
  }

  /** The route's JSON answer, as writeJson writes it, headers and all in one writeHead. */
  writeJson(res: ServerResponse, status: number, result: unknown): void {
    const json = JSON.stringify(result);
    this.list.push('Content-Type', JSON_CONTENT_TYPE, 'Content-Length', String(Buffer.byteLength(json)));
    res.writeHead(status, this.list);
    res.end(json);
  }

  /** Onto the response, one by one: for an error answer, whose own headers (Retry-After…) come after. */
  applyTo(res: ServerResponse): void {
    if (!res.headersSent) setHeaderList(res, this.list);
  }
}

/** JSON as express.json reads it: strict, an object or array at the top. */
function strictJson(text: string): unknown {
  const c = text[0];
  if (c !== '{' && c !== '[') {
    const nonWs = firstNonWhitespace(text);
    if (nonWs !== '{' && nonWs !== '[') throw parseFailed();
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw parseFailed();
  }
}

/** The first character that is not JSON whitespace (RFC 8259: space, tab, LF, CR), as body-parser's strict check reads it. */
function firstNonWhitespace(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return text[i];
  }
  return undefined;
}
