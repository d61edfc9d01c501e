import { HttpError } from '../core/errors.js';

/** Event payloads may reach 256 KB; the envelope around them needs a little more. */
export const BODY_LIMIT = '300kb';
export const BODY_LIMIT_BYTES = 300 * 1024;

export interface ErrorAnswer {
  status: number;
  headers?: Record<string, string>;
  body: { error: { code: string; message: string; field?: string } };
}

/**
 * The 4xx answer for an error a request caused: an HttpError, or the JSON body parser's own
 * (`entity.parse.failed`, `entity.too.large`, a bad charset). Undefined for anything else: a 500,
 * logged by the caller. Express's error handler and the verify fast path both answer from here.
 */
export function errorAnswer(err: unknown): ErrorAnswer | undefined {
  if (err instanceof HttpError) {
    return { status: err.status, headers: err.headers, body: { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } } };
  }
  const e = err as { type?: string; status?: number };
  if (e.type === 'entity.parse.failed') return { status: 400, body: { error: { code: 'invalid_json', message: 'body: not valid JSON' } } };
  if (e.type === 'entity.too.large') return { status: 413, body: { error: { code: 'payload_too_large', message: `body: larger than ${BODY_LIMIT}` } } };
  if (e.status && e.status >= 400 && e.status < 500) return { status: e.status, body: { error: { code: 'invalid_request', message: 'The request could not be read' } } };
  return undefined;
}

export const INTERNAL_ERROR = { error: { code: 'internal_error', message: 'Internal error; it has been logged' } };
