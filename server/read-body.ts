import type { IncomingMessage } from 'node:http';

/** The body parser's own error shapes (body-parser's `type`), so the error answers read them alike. */
export const parseFailed = () => Object.assign(new SyntaxError('body: not valid JSON'), { status: 400, type: 'entity.parse.failed' });
const sizeMismatch = () => Object.assign(new Error('request size did not match content length'), { status: 400, type: 'request.size.invalid' });

/**
 * A body of known length, read whole, without body-parser's content-type and charset parsing or
 * decoder streams (the fast paths: server/fast-verify.ts, server/oauth/fast-token.ts). A body
 * shorter or longer than its Content-Length is refused as body-parser refuses it.
 */
export function readExactly(req: IncomingMessage, length: number): Promise<Buffer> {
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
