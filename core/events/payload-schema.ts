import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { RE2JS } from 're2js';
import type { z } from 'zod';
import { HttpError, truncate } from '../errors.js';
import { EVENT_CATALOG, isCatalogEventType } from './catalog.js';

/** The only dialect a custom event type's schema may declare (or leave `$schema` out). */
export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';
/** Largest JSON Schema a custom event type may carry, measured as JSON. */
export const MAX_SCHEMA_BYTES = 64 * 1024;

/**
 * `pattern` and `patternProperties` of a workspace's schema run on every payload it publishes, in
 * the API process all workspaces share: a linear-time engine (RE2) means no pattern can make a
 * 256 KB payload take seconds. Patterns RE2 cannot run (look-arounds, back-references) are refused
 * when the type is created.
 */
const re2 = Object.assign((pattern: string) => RE2JS.compile(pattern), { code: 'RE2JS.compile' });

/** A fresh instance per schema: nothing a schema declares (`$id`s) outlives it or meets another's. */
function newAjv(): Ajv2020 {
  // strict: false accepts keywords of other vocabularies as annotations, as draft 2020-12 says;
  // formats are annotations too (they are not checked), so no format is rejected as unknown.
  return new Ajv2020({ strict: false, validateFormats: false, allErrors: false, code: { regExp: re2 } });
}

/** `payload.items[0].sku` from the segments of a path. */
export function jsonPath(root: string, segments: readonly PropertyKey[]): string {
  let out = root;
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (typeof s === 'string' && /^[A-Za-z_$][\w$]*$/.test(s)) out += `.${truncate(s)}`;
    else out += `[${JSON.stringify(truncate(String(s)))}]`;
  }
  return out;
}

/** The segments of a JSON Pointer (`/items/0/sku`); array indexes become numbers. */
function pointerSegments(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

function ajvProblem(root: string, e: ErrorObject): { path: string; message: string } {
  const segments = pointerSegments(e.instancePath);
  const params = e.params as { missingProperty?: string; additionalProperty?: string; unevaluatedProperty?: string };
  if (e.keyword === 'required' && params.missingProperty !== undefined) {
    return { path: jsonPath(root, [...segments, params.missingProperty]), message: 'is required' };
  }
  const extra = params.additionalProperty ?? params.unevaluatedProperty;
  if (extra !== undefined) return { path: jsonPath(root, [...segments, extra]), message: 'is not allowed' };
  return { path: jsonPath(root, segments), message: e.message ?? `fails "${e.keyword}"` };
}

const invalid = (path: string, message: string) => new HttpError(400, 'invalid_input', `${path}: ${message}`, path);

/**
 * 400 naming `schema` unless `schema` is a JSON Schema (draft 2020-12) Gatehouse can check
 * payloads against: valid against the meta-schema, self-contained (no `$ref` to another
 * document) and within size.
 */
export function assertValidPayloadSchema(schema: Record<string, unknown>, field = 'schema'): void {
  if (Buffer.byteLength(JSON.stringify(schema)) > MAX_SCHEMA_BYTES) throw invalid(field, `at most ${MAX_SCHEMA_BYTES / 1024} KB of JSON`);
  if (schema['$schema'] !== undefined && schema['$schema'] !== JSON_SCHEMA_DIALECT) {
    throw invalid(`${field}.$schema`, `must be ${JSON_SCHEMA_DIALECT} (draft 2020-12) or left out`);
  }
  const ajv = newAjv();
  if (!ajv.validateSchema(schema)) {
    const first = ajv.errors?.[0];
    const { path, message } = first ? ajvProblem(field, first) : { path: field, message: 'is not a valid JSON Schema' };
    throw invalid(path, `${message} (not a valid draft 2020-12 JSON Schema)`);
  }
  try {
    ajv.compile(schema);
  } catch (err) {
    throw invalid(field, truncate(err instanceof Error ? err.message : String(err), 300));
  }
}

/** Compiled custom schemas by their JSON text: compiling costs far more than validating. */
const compiled = new Map<string, ValidateFunction>();
const MAX_COMPILED = 500;

function validatorFor(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = newAjv().compile(schema);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(key, validate);
  }
  return validate;
}

/**
 * 400 naming the JSON path of the first problem (`payload.items[0].sku: must be string`) unless
 * `payload` matches its type's schema: the catalog's zod schema for a catalog type, else the custom
 * type's JSON Schema, if it has one.
 */
export function assertPayloadMatches(type: string, customSchema: Record<string, unknown> | null, payload: unknown, field = 'payload'): void {
  if (isCatalogEventType(type)) {
    const schema: z.ZodType = EVENT_CATALOG[type].schema;
    const parsed = schema.safeParse(payload);
    if (parsed.success) return;
    const issue = parsed.error.issues[0]!;
    throw invalid(jsonPath(field, issue.path), issue.message);
  }
  if (!customSchema) return;
  const validate = validatorFor(customSchema);
  if (validate(payload)) return;
  const first = validate.errors?.[0];
  const { path, message } = first ? ajvProblem(field, first) : { path: field, message: 'does not match the schema of its event type' };
  throw invalid(path, message);
}
