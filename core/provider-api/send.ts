import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { HttpError, badRequest } from '../errors.js';
import { maskSecret } from '../keys/secret.js';
import { hostOf, refusalReason } from '../webhooks/egress.js';
import { agentsFor, describe as describeNetworkError } from '../webhooks/http.js';
import { RESERVED_HEADERS, type KeyScheme } from './document.js';
import type { OperationView } from './operations.js';

export const SEND_TIMEOUT_MS = 30_000;
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Response headers that describe the hop, or would set the provider's cookies on Gatehouse's origin. */
const DROPPED_RESPONSE_HEADERS = new Set([...RESERVED_HEADERS, 'set-cookie2']);

export interface ProviderTarget {
  baseUrl: string;
  keyHeader: string;
  keyScheme: KeyScheme;
}

export interface SendRequest {
  op: OperationView;
  pathParams: Record<string, string>;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  /** The body as text (JSON already serialised), or undefined for none. */
  body?: string;
  key: string;
}

export interface SendResult {
  status: number;
  headers: Record<string, string>;
  durationMs: number;
  body: string;
  truncated: boolean;
  /** What was sent, the key masked: for the playground's request panel. */
  request: { method: string; url: string; headers: Record<string, string> };
}

/**
 * The URL a request goes to: the registered base URL, then the operation's template with each
 * parameter percent-encoded as one segment. A parameter cannot add a segment (`/` is encoded),
 * climb one (`.`/`..` refused) or leave the host, and the result is checked to still sit under
 * the base URL, whatever the template held.
 */
export function targetUrl(baseUrl: string, op: OperationView, pathParams: Record<string, string>, query: Record<string, string | string[]>): URL {
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = pathParams[name];
    if (value === undefined || value === '') throw badRequest(`path_params.${name}: required by ${op.path}`, `path_params.${name}`);
    if (value === '.' || value === '..') throw badRequest(`path_params.${name}: '.' and '..' are not path parameters`, `path_params.${name}`);
    return encodeURIComponent(value);
  });
  const base = new URL(baseUrl);
  const url = new URL(base.href.replace(/\/+$/, '') + path);
  const prefix = base.pathname.replace(/\/+$/, '');
  if (url.origin !== base.origin || !(url.pathname === prefix || url.pathname.startsWith(`${prefix}/`)) || url.pathname.includes('//')) {
    throw badRequest(`path: ${op.path} does not stay under the registered base URL`, 'path');
  }
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, v);
  }
  return url;
}

/**
 * One request to the provider's API for the playground. The connection goes through the webhooks'
 * egress guard (every resolved address judged at connect time, literal IPs here); redirects are
 * refused, not followed (a 3xx answers 502 naming where it pointed); the exchange is cut off after
 * `timeoutMs`; at most 1 MB of the answer is read, the rest dropped and `truncated` set.
 */
export async function sendToProvider(target: ProviderTarget, req: SendRequest, opts: { allowCidrs: string; timeoutMs: number }): Promise<SendResult> {
  const url = targetUrl(target.baseUrl, req.op, req.pathParams, req.query);
  const host = hostOf(url);
  if (isIP(host)) {
    const why = refusalReason(host, opts.allowCidrs);
    if (why) throw egressRefused(`${host} is ${why}`);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower) || lower === target.keyHeader) continue;
    headers[lower] = value;
  }
  headers[target.keyHeader] = target.keyScheme === 'bearer' ? `Bearer ${req.key}` : req.key;
  headers['user-agent'] = 'Gatehouse-Playground/1.0';
  if (req.body !== undefined) {
    headers['content-type'] ??= req.op.body?.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(req.body));
  }
  const shown = { ...headers, [target.keyHeader]: target.keyScheme === 'bearer' ? `Bearer ${maskSecret(req.key)}` : maskSecret(req.key) };
  const request = { method: req.op.method, url: url.href, headers: shown };

  const isHttps = url.protocol === 'https:';
  const agents = agentsFor(opts.allowCidrs);
  const started = performance.now();
  return new Promise<SendResult>((resolve, reject) => {
    let settled = false;
    const fail = (err: HttpError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    const out = (isHttps ? https : http).request(url, { method: req.op.method, agent: isHttps ? agents.https : agents.http, headers });
    const timer = setTimeout(() => {
      fail(new HttpError(504, 'upstream_timeout', `The provider's API did not answer within ${opts.timeoutMs / 1000} s`));
      out.destroy();
    }, opts.timeoutMs);
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.name === 'EgressRefused') return fail(egressRefused(err.message.replace(/; an operator can allow it.*$/, '')));
      fail(new HttpError(502, 'upstream_unreachable', `The provider's API could not be reached: ${describeNetworkError(err)}`));
    });
    out.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        res.destroy();
        const location = typeof res.headers.location === 'string' ? ` to ${res.headers.location.slice(0, 300)}` : '';
        return fail(new HttpError(502, 'upstream_redirect', `The provider's API answered ${status}, a redirect${location}; the playground does not follow redirects`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const done = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const kept: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined || DROPPED_RESPONSE_HEADERS.has(name)) continue;
          kept[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        const body = Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8');
        resolve({ status, headers: kept, durationMs: Math.round(performance.now() - started), body, truncated, request });
      };
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          // Enough to show: the rest is not read, and the socket is not reused.
          truncated = true;
          done();
          res.destroy();
        }
      });
      res.on('end', done);
      res.on('aborted', () => fail(new HttpError(502, 'upstream_unreachable', "The provider's API closed the connection mid-answer")));
      res.on('error', () => fail(new HttpError(502, 'upstream_unreachable', "The provider's API closed the connection mid-answer")));
    });
    out.end(req.body);
  });
}

function egressRefused(why: string): HttpError {
  return new HttpError(403, 'egress_refused', `The registered base URL may not be reached: ${why}; an operator can allow it with GATEHOUSE_EGRESS_ALLOW_CIDRS`, 'base_url');
}
