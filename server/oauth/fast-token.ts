import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';
import type { ServerDeps } from '../context.js';
import type { FastHandler } from '../fast-verify.js';
import type { ObserveRequest } from '../metrics.js';
import { INTERNAL_ERROR } from '../error-answer.js';
import { writeJson } from '../rest/register.js';
import { setApiHeaders } from '../security-headers.js';
import { formParams } from './client-auth.js';
import { tokenDeps } from './endpoints.js';
import { formReader } from './form.js';
import { noStore, oauthErrorAnswer } from './error-answer.js';
import { issuerAt, issuerOf } from './issuer.js';
import { TOKEN_PATH, tokenRequest } from './token-request.js';

export interface FastTokenOptions {
  /** The app's deps after mountOperations: the usage pipeline that counts the issuance. */
  deps: ServerDeps;
  observe: ObserveRequest;
  /** The request as Express's getters read it (the app's trust proxy setting): for `protocol` and `Host`. */
  view: (req: IncomingMessage) => Request;
  /** The caller's address, as Express's `req.ip` reads it (the app's trust proxy setting). */
  ipOf: (req: IncomingMessage) => string;
}

/**
 * `POST /oauth/token` answered before Express, as POST /v1/keys/verify is (server/fast-verify.ts):
 * a token request is a verification plus one signature, and Express's router walk cost as much as
 * the signature (BENCHMARKS.md, oauth). Everything else is the Express route's, through the same
 * functions: the same form parsing (server/oauth/form.ts: body-parser's parse step, its limits and
 * errors), the same tokenRequest, the same error answers and headers, and the request-duration histogram. The route
 * stays mounted for `http.createServer(app)`; test/oauth/fast-token.test.ts compares the two.
 */
export function fastToken(opts: FastTokenOptions): FastHandler {
  const { deps, observe, view, ipOf } = opts;
  const td = tokenDeps(deps);
  const readForm = formReader();

  async function answer(req: IncomingMessage & { body?: unknown }, res: ServerResponse, start: number): Promise<void> {
    try {
      await readForm(req, res);
      const params = formParams(req);
      const h = req.headers;
      // With no X-Forwarded-Proto, Express's req.protocol is the socket's whatever the trust proxy
      // setting: read it directly rather than make Express's request view.
      const issuer =
        h['x-forwarded-proto'] === undefined ? issuerAt(deps.config, (req.socket as TLSSocket).encrypted ? 'https' : 'http', h.host) : issuerOf(deps.config, view(req));
      writeJson(res, 200, await tokenRequest(deps, td, { params, authorization: h.authorization, ip: ipOf(req), issuer }));
    } catch (err) {
      const refusal = oauthErrorAnswer(err);
      if (!refusal) deps.log.error({ err, path: TOKEN_PATH }, 'oauth endpoint failed');
      if (!res.headersSent) {
        for (const name in refusal?.headers) res.setHeader(name, refusal.headers[name]!);
        writeJson(res, refusal?.status ?? 500, refusal?.body ?? INTERNAL_ERROR);
      }
    }
    observe('POST', TOKEN_PATH, res.statusCode, start);
  }

  return (req, res) => {
    if (req.method !== 'POST' || req.url !== TOKEN_PATH) return false;
    const start = performance.now();
    setApiHeaders(res);
    noStore(res);
    void answer(req, res, start);
    return true;
  };
}
