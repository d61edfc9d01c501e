import { parse as parseYaml, YAMLParseError } from 'yaml';
import { HttpError } from '../errors.js';
import { pointerOf, refsOf, resolvePointer } from './pointer.js';

/** Real documents run to hundreds of KB (Stripe's is several MB); past this one is refused, named. */
export const MAX_DOCUMENT_BYTES = 2 * 1024 * 1024;

/** One thing wrong with an uploaded document, where it is (a JSON pointer, `''` for the whole). */
export interface DocumentProblem {
  path: string;
  message: string;
}

/** A 400 naming `document`, carrying every problem found (REST answers them as `problems`). */
export class DocumentInvalid extends HttpError {
  constructor(readonly problems: DocumentProblem[]) {
    const first = problems.slice(0, 3).map((p) => `${p.path || '(document)'}: ${p.message}`);
    super(400, 'invalid_document', `document: ${first.join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}`, 'document');
  }
}

export type OpenApiDocument = Record<string, unknown>;

/**
 * The uploaded text, JSON or YAML (JSON is YAML, but JSON.parse's messages are clearer). YAML
 * aliases are capped: a billion-laughs document must not expand into gigabytes.
 */
export function parseDocumentText(text: string): OpenApiDocument {
  if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) {
    throw new HttpError(413, 'payload_too_large', `document: larger than ${MAX_DOCUMENT_BYTES / 1024 / 1024} MB`, 'document');
  }
  let parsed: unknown;
  try {
    parsed = text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100, uniqueKeys: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` (line ${err.linePos[0].line})` : '';
    throw new DocumentInvalid([{ path: '', message: `not valid JSON or YAML${where}: ${(err as Error).message.split('\n')[0]}` }]);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new DocumentInvalid([{ path: '', message: 'expected an OpenAPI document (an object with `openapi`, `info` and `paths`)' }]);
  }
  return parsed as OpenApiDocument;
}

/**
 * Checks a parsed document and answers its problems (none: it may be registered). Ours first:
 * OpenAPI 3.0 or 3.1 only, and every `$ref` internal and pointing at something, so that the
 * parser, told not to resolve external references anyway, is never handed one to fetch. Then
 * @readme/openapi-parser's validation against the specification's schema and rules.
 */
export async function documentProblems(doc: OpenApiDocument): Promise<DocumentProblem[]> {
  if ('swagger' in doc) return [{ path: '/swagger', message: 'Swagger 2.0 is not supported: convert the document to OpenAPI 3.0 or 3.1' }];
  if (typeof doc['openapi'] !== 'string' || !/^3\.[01]\.\d+$/.test(doc['openapi'])) {
    return [{ path: '/openapi', message: 'expected OpenAPI 3.0.x or 3.1.x (`openapi: 3.1.0`)' }];
  }
  const refProblems: DocumentProblem[] = [];
  for (const { path, ref } of refsOf(doc)) {
    if (!ref.startsWith('#')) {
      refProblems.push({ path, message: `external reference '${ref}' is not fetched; bundle it into the document (only #/… references)` });
    } else if (resolvePointer(doc, ref) === undefined) {
      refProblems.push({ path, message: `reference '${ref}' points at nothing in the document` });
    }
  }
  if (refProblems.length) return refProblems;

  // Loaded on the first check, not with the module: the parser and its schemas are ~4 MB of the API's
  // heap (72.3 MB after imports with them, 68.1 without) that every full collection would walk, for an
  // operator's occasional upload (BENCHMARKS.md, "What stalls a paced round").
  const parser = await import('@readme/openapi-parser');
  const options = { resolve: { external: false, file: false }, dereference: { circular: 'ignore' as const } };
  let result: Awaited<ReturnType<typeof parser.validate>>;
  try {
    result = await parser.validate(structuredClone(doc) as never, options);
  } catch (err) {
    // The parser throws on what it cannot read at all: still the document's problem, never a 500.
    return [{ path: '', message: (err as Error).message.split('\n')[0]! }];
  }
  if (result.valid) return [];
  // The parser's messages carry a code frame of the dereferenced document, printed with two-space
  // indentation; its `>` line is mapped back to a JSON pointer in that same printing.
  let lines: string[] | undefined;
  const problems: DocumentProblem[] = [];
  for (const e of result.errors) {
    const line = /^>\s*(\d+)\s*\|/m.exec(e.message)?.[1];
    if (line && !lines) lines = pointerOf(await parser.dereference(structuredClone(doc) as never, options).catch(() => ({})));
    problems.push({ path: line ? (lines?.[Number(line) - 1] ?? '') : '', message: e.message.split('\n')[0]!.replace(/^[A-Z_]+ /, '') });
  }
  if (result.additionalErrors) problems.push({ path: '', message: `and ${result.additionalErrors} more errors` });
  return problems;
}

export type KeyScheme = 'header' | 'bearer';

/** Where the customer's key goes: from the document's security scheme, else `x-api-key`. */
export function keyPlacementOf(doc: OpenApiDocument): { keyHeader: string; keyScheme: KeyScheme } {
  const schemes = ((doc['components'] as { securitySchemes?: Record<string, unknown> } | undefined)?.securitySchemes ?? {}) as Record<string, Record<string, unknown>>;
  // The schemes the document applies to every operation come first, then any it declares.
  const applied = ((doc['security'] as Record<string, unknown>[] | undefined) ?? []).flatMap((req) => Object.keys(req));
  const names = [...new Set([...applied, ...Object.keys(schemes)])];
  for (const name of names) {
    let scheme = schemes[name];
    if (scheme && typeof scheme['$ref'] === 'string') scheme = resolvePointer(doc, scheme['$ref']) as Record<string, unknown> | undefined;
    if (!scheme) continue;
    if (scheme['type'] === 'apiKey' && scheme['in'] === 'header' && typeof scheme['name'] === 'string' && isHeaderName(scheme['name'])) {
      return { keyHeader: scheme['name'].toLowerCase(), keyScheme: 'header' };
    }
    if (scheme['type'] === 'http' && String(scheme['scheme']).toLowerCase() === 'bearer') return { keyHeader: 'authorization', keyScheme: 'bearer' };
  }
  return { keyHeader: 'x-api-key', keyScheme: 'header' };
}

/** Headers the proxy sets or that belong to one hop: never the key's header, never forwarded from the caller. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'cookie',
  'set-cookie',
  'expect',
]);

export function isHeaderName(name: string): boolean {
  return /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/.test(name) && !RESERVED_HEADERS.has(name.toLowerCase());
}
