import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import qs from 'qs';
import { plainText } from '../read-body.js';

/** The OAuth endpoints' form bodies: small (a few parameters, one secret), so both limits are tight. */
const FORM_LIMIT_BYTES = 16 * 1024;
const FORM_PARAMETER_LIMIT = 20;
const FORM_TYPES = ['application/x-www-form-urlencoded'];

/** The endpoints' body parser on the Express routes: form-encoded only (RFC 6749 §3.2), small, each parameter once. */
export const oauthForm = () => express.urlencoded({ extended: false, limit: FORM_LIMIT_BYTES, parameterLimit: FORM_PARAMETER_LIMIT });

type Parser = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Reads a form body into `req.body` for the token endpoint's fast path (fast-token.ts): a plain
 * `application/x-www-form-urlencoded` body with a length is read whole and parsed by `parseForm`,
 * body-parser's own parse step; anything else (a charset, a chunked or compressed body, too
 * large) goes through oauthForm itself, errors and all. What the fast reader saves is
 * body-parser's content-type parsing, raw-body's stream handling and iconv's decoder.
 */
export function formReader(): (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => Promise<void> {
  const form = oauthForm() as unknown as Parser;
  return (req, res) => {
    const text = plainText(req, FORM_TYPES, FORM_LIMIT_BYTES);
    if (text)
      return text.then((t) => {
        req.body = parseForm(t);
      });
    return new Promise((resolve, reject) => form(req, res, (err) => (err ? reject(err as Error) : resolve())));
  };
}

/**
 * body-parser's urlencoded parse (extended: false) step for step, with its options and errors:
 * the parameter count against the limit, then qs with depth 0 and as many array entries as
 * parameters (a repeated name becomes an array, which formParams refuses).
 */
function parseForm(body: string): Record<string, unknown> {
  if (!body.length) return {};
  const count = parameterCount(body, FORM_PARAMETER_LIMIT);
  if (count === undefined) throw Object.assign(new Error('too many parameters'), { status: 413, type: 'parameters.too.many' });
  try {
    return qs.parse(body, { allowPrototypes: true, arrayLimit: count, depth: 0, charset: 'utf-8', parameterLimit: FORM_PARAMETER_LIMIT, strictDepth: true });
  } catch (err) {
    if (err instanceof RangeError) throw Object.assign(new Error('The input exceeded the depth'), { status: 400, type: 'querystring.parse.rangeError' });
    throw err;
  }
}

function parameterCount(body: string, limit: number): number | undefined {
  let count = 0;
  let index = -1;
  do {
    count++;
    if (count > limit) return undefined;
    index = body.indexOf('&', index + 1);
  } while (index !== -1);
  return count;
}
