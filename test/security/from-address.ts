import { request } from 'node:http';

/**
 * HTTP requests from a chosen local address. The whole of 127.0.0.0/8 is this machine on Linux,
 * so a test can be "another client" (a different socket address, as the server sees it) without
 * a proxy and without X-Forwarded-For.
 */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export function requestFrom(
  from: string,
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...opts.headers };
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers, localAddress: from }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: the text shows in a failed assertion
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** One tRPC call over HTTP, as a client (x-api-key) or the UI (cookie + CSRF header) makes it. */
export function trpcFrom(
  from: string,
  baseUrl: string,
  kind: 'query' | 'mutation',
  path: string,
  opts: { key?: string; cookie?: string; input?: unknown; csrf?: boolean; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers['x-api-key'] = opts.key;
  if (opts.cookie) headers['cookie'] = opts.cookie;
  if (opts.csrf !== false) headers['x-gatehouse-csrf'] = '1';
  if (kind === 'query') {
    const query = opts.input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(opts.input))}`;
    return requestFrom(from, `${baseUrl}/trpc/${path}${query}`, { headers });
  }
  return requestFrom(from, `${baseUrl}/trpc/${path}`, { method: 'POST', headers, body: opts.input ?? {} });
}

/** The `name=value` of a response's session cookie, for the next request's Cookie header. */
export function cookieOf(reply: Reply): string {
  const set = reply.headers['set-cookie'];
  const first = Array.isArray(set) ? set[0] : set;
  if (!first) throw new Error(`no Set-Cookie in the reply (status ${reply.status}: ${JSON.stringify(reply.body)})`);
  return first.split(';')[0]!;
}
