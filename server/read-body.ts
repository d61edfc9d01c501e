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
  const h = req.headers;
  const length = h['content-length'];
  if (length === undefined || h['transfer-encoding'] !== undefined || h['content-encoding'] !== undefined || !types.includes(h['content-type'] ?? '')) return undefined;
  const n = Number(length);
  if (!(n > 0 && n <= limit)) return undefined;
  return readExactly(req, n).then((body) => {
    const text = body.toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  });
}

/** A body of known length, read whole; one shorter or longer than its Content-Length is refused as body-parser refuses it. */
function readExactly(req: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let rest: Buffer[] | undefined;
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (!first) first = chunk;
      else (rest ??= [first]).push(chunk);
    });
    req.once('error', reject);
    req.once('end', () => {
      if (received !== length) return reject(sizeMismatch());
      resolve(rest ? Buffer.concat(rest, received) : (first ?? Buffer.alloc(0)));
    });
  });
}
