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
import type { VerifyResult } from '../core/keys/verify.js';
import { parseFailed, readPlainText } from './read-body.js';
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

  /**
   * One request, step by step, each step taken at once when its input is at hand or when its
   * promise settles: a cached key, its leased rate limit and a verification answered from memory
   * run in the turn the body arrived, with no promise (BENCHMARKS.md, "The verify path without
   * promises"). Every step's failure ends in fail(), as the one catch of an async handler would.
   */
  class Exchange {
    private readonly headers = new AnswerHeaders();
    private principal: Principal | undefined;
    private recorded = false;

    constructor(
      private readonly req: IncomingMessage,
      private readonly res: ServerResponse,
      private readonly secret: string,
      private readonly start: number,
    ) {}

    /** In Express's order: the body parser runs before the route authenticates. */
    begin(): void {
      const plain = readPlainText(this.req, JSON_TYPES, BODY_LIMIT_BYTES, (err, text) => (err ? this.fail(err) : this.parse(text!)));
      if (!plain) json(this.req, this.res, (err) => (err ? this.fail(err) : this.authenticate((this.req as { body?: unknown }).body)));
    }

    private parse(text: string): void {
      let sent: unknown;
      try {
        sent = strictJson(text);
      } catch (err) {
        return this.fail(err);
      }
      this.authenticate(sent);
    }

    private authenticate(sent: unknown): void {
      try {
        const found = principalFromKey(this.secret, deps, this.req, ipOf);
        if (found instanceof Promise) found.then((p) => this.limit(p, sent), (err: unknown) => this.fail(err));
        else this.limit(found, sent);
      } catch (err) {
        this.fail(err);
      }
    }

    private limit(principal: Principal | undefined, sent: unknown): void {
      try {
        this.principal = principal;
        if (!principal) throw unauthorized();
        const limited = enforceCallerRateLimit(deps.verifier, principal, this.headers, { selfCounting: true });
        if (limited) limited.then(() => this.verify(principal, sent), (err: unknown) => this.fail(err));
        else this.verify(principal, sent);
      } catch (err) {
        this.fail(err);
      }
    }

    private verify(principal: Principal, sent: unknown): void {
      try {
        if (!hasScope(principal.scopes, SCOPE)) throw forbidden(SCOPE);
        const body = routeBody(verifyRoute, this.req.headers, sent) as z.output<typeof verifyBody>;
        const r = verification(deps, principal.workspaceId, body, body.ip === undefined ? ipOf(this.req) : '');
        if (r instanceof Promise) r.then((v) => this.answer(principal, v), (err: unknown) => this.fail(err));
        else this.answer(principal, r);
      } catch (err) {
        this.fail(err);
      }
    }

    private answer(principal: Principal, r: VerifyResult): void {
      try {
        verificationRecord(deps.usage, principal.workspaceId, r, this.start, this.req.headers);
        this.recorded = true;
        this.headers.writeJson(this.res, 200, verifyAnswer(r));
      } catch (err) {
        return this.fail(err);
      }
      this.finish();
    }

    private fail(err: unknown): void {
      const res = this.res;
      this.headers.applyTo(res);
      const refusal = errorAnswer(err);
      if (refusal?.headers) for (const name in refusal.headers) res.setHeader(name, refusal.headers[name]!);
      if (!refusal) log.error({ err, method: this.req.method, path: PATH }, 'request failed');
      if (!res.headersSent) writeJson(res, refusal?.status ?? 500, refusal?.body ?? INTERNAL_ERROR);
      this.finish();
    }

    private finish(): void {
      observe('POST', PATH, this.res.statusCode, this.start);
      // As the usage middleware: a call that authenticated but was not verified stays in the request log.
      if (this.principal && !this.recorded) recordCall(deps.usage, this.principal, 'api', 'POST', PATH, this.res.statusCode, this.start);
    }
  }

  return (req, res) => {
    if (req.method !== 'POST' || req.url !== PATH) return false;
    const key = req.headers['x-api-key'];
    // Absent, blank or repeated: the session path and the refusals are Express's.
    if (typeof key !== 'string' || key.includes(',')) return false;
    const secret = key.trim();
    if (!secret) return false;
    const start = performance.now();
    new Exchange(req, res, secret, start).begin();
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
