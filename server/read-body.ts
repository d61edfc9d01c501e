import type { IncomingMessage } from 'node:http';

/** The body parser's own error shapes (body-parser's `type`), so the error answers read them alike. */
export const parseFailed = () => Object.assign(new SyntaxError('body: not valid JSON'), { status: 400, type: 'entity.parse.failed' });
const sizeMismatch = () => Object.assign(new Error('request size did not match content length'), { status: 400, type: 'request.size.invalid' });

/**
 * The body as UTF-8 text when the fast paths (server/fast-verify.ts, server/oauth/form.ts) may read
 * it without body-parser's content-type and charset parsing or decoder streams: its type exactly one
 * of `types`, a Content-Length from 1 to `limit`, neither chunked nor compressed. A byte order mark is
 * dropped, as body-parser's decoder drops it. Undefined otherwise: body-parser reads it, errors and all.
 */
export function plainText(req: IncomingMessage, types: readonly string[], limit: number): Promise<string> | undefined {
  let settle: ((err: unknown, text?: string) => void) | undefined;
  const text = new Promise<string>((resolve, reject) => {
    settle = (err, t) => (err ? reject(err) : resolve(t!));
  });
  return readPlainText(req, types, limit, settle!) ? text : undefined;
}

/**
 * plainText with a callback instead of a promise: `done` gets the text, or the error body-parser
 * would give, as the body's last chunk arrives. False (and `done` never called) when body-parser must
 * read it. The verify fast path reads its body so, then answers in the same turn when nothing waits
 * on PostgreSQL (BENCHMARKS.md, "The verify path without promises").
 */
export function readPlainText(req: IncomingMessage, types: readonly string[], limit: number, done: (err: unknown, text?: string) => void): boolean {
  const h = req.headers;
  const length = h['content-length'];
  if (length === undefined || h['transfer-encoding'] !== undefined || h['content-encoding'] !== undefined || !types.includes(h['content-type'] ?? '')) return false;
  const n = Number(length);
  if (!(n > 0 && n <= limit)) return false;
  readExactly(req, n, (err, body) => {
    if (err) return done(err);
    const text = body!.toString('utf8');
    done(undefined, text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  });
  return true;
}

/** A body of known length, read whole; one shorter or longer than its Content-Length is refused as body-parser refuses it. */
function readExactly(req: IncomingMessage, length: number, done: (err: unknown, body?: Buffer) => void): void {
  let first: Buffer | undefined;
  let rest: Buffer[] | undefined;
  let received = 0;
  let settled = false;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (!first) first = chunk;
    else (rest ??= [first]).push(chunk);
  });
  req.on('error', (err) => {
    if (settled) return;
    settled = true;
    done(err);
  });
  req.on('end', () => {
    if (settled) return;
    settled = true;
    if (received !== length) return done(sizeMismatch());
    done(undefined, rest ? Buffer.concat(rest, received) : (first ?? Buffer.alloc(0)));
  });
}
