import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, hostOf, refusalReason } from './egress.js';

export const RESPONSE_EXCERPT_BYTES = 20 * 1024;
export const ATTEMPT_TIMEOUT_MS = 15_000;

export interface PostResult {
  /** 0 when no HTTP answer came back (refused address, DNS, connect, TLS, timeout). */
  statusCode: number;
  durationMs: number;
  responseExcerpt: string;
  error?: string;
  retryAfter?: string;
}

export interface PostOptions {
  timeoutMs: number;
  allowCidrs: string;
}

const agents = new Map<string, { http: http.Agent; https: https.Agent }>();
/** Keep-alive agents whose every new connection goes through the SSRF guard's lookup. */
export function agentsFor(allowCidrs: string) {
  let a = agents.get(allowCidrs);
  if (!a) {
    const lookup = guardedLookup(allowCidrs) as unknown as http.AgentOptions['lookup'];
    a = {
      http: new http.Agent({ keepAlive: true, maxSockets: 50, lookup } as http.AgentOptions),
      https: new https.Agent({ keepAlive: true, maxSockets: 50, lookup } as https.AgentOptions),
    };
    agents.set(allowCidrs, a);
  }
  return a;
}

export function describe(err: NodeJS.ErrnoException): string {
  if (err.name === 'EgressRefused') return `refused: ${err.message}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ECONNRESET':
      return 'connection reset by the endpoint';
    case 'ETIMEDOUT':
      return 'connection timed out';
    default:
      return err.code ? `${err.code}: ${err.message}` : err.message;
  }
}

/**
 * One POST to a webhook endpoint. Redirects are never followed (node:http does not), the whole
 * exchange is cut off after `timeoutMs`, and only the first 20 KB of the answer are kept.
 * Never throws: every outcome is a result to record.
 */
export function postWebhook(rawUrl: string, headers: Record<string, string>, body: string, opts: PostOptions): Promise<PostResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return Promise.resolve({ statusCode: 0, durationMs: 0, responseExcerpt: '', error: 'the endpoint URL is not valid' });
  }
  // A literal IP skips `lookup` inside net.connect, so it is judged here.
  const host = hostOf(url);
  if (isIP(host)) {
    const why = refusalReason(host, opts.allowCidrs);
    if (why) return Promise.resolve({ statusCode: 0, durationMs: 0, responseExcerpt: '', error: `refused: ${host} is ${why}` });
  }
  const isHttps = url.protocol === 'https:';
  const agent = isHttps ? agentsFor(opts.allowCidrs).https : agentsFor(opts.allowCidrs).http;

  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Omit<PostResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, durationMs: elapsed() });
    };
    const req = (isHttps ? https : http).request(url, {
      method: 'POST',
      agent,
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'Gatehouse-Webhooks/1.0',
      },
    });
    const timer = setTimeout(() => {
      req.destroy(Object.assign(new Error(`no complete answer within ${opts.timeoutMs} ms`), { code: 'ATTEMPT_TIMEOUT' }));
    }, opts.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish({ statusCode: 0, responseExcerpt: '', error: err.code === 'ATTEMPT_TIMEOUT' ? `timed out: ${err.message}` : describe(err) });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (error?: string) => {
        const excerpt = Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
        const retryAfter = res.headers['retry-after'];
        finish({ statusCode: res.statusCode ?? 0, responseExcerpt: excerpt, error, ...(retryAfter ? { retryAfter } : {}) });
      };
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= RESPONSE_EXCERPT_BYTES) {
          // Enough to show: the rest is not read, and the socket is not reused.
          done();
          res.destroy();
        }
      });
      res.on('end', () => done());
      res.on('error', () => done());
      res.on('aborted', () => done('the endpoint closed the connection mid-answer'));
    });
    req.end(body);
  });
}
