import { resolvePointer } from '../../../../core/provider-api/pointer.js';

/** The routes an OpenAPI document offers, flattened for a picker. */
export interface RouteOption {
  method: string;
  path: string;
  summary: string;
  params: string[];
  hasBody: boolean;
  example?: unknown;
}

interface Operation {
  summary?: string;
  requestBody?: { content?: Record<string, { example?: unknown; schema?: JsonSchema }> };
}

/** The parts of a JSON Schema (as /openapi.json writes them) an example is made from. */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  example?: unknown;
  examples?: unknown[];
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  format?: string;
  minimum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  readOnly?: boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

type Doc = { paths?: Record<string, Partial<Record<string, Operation>>>; components?: { schemas?: Record<string, JsonSchema> } };

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/**
 * A body to start from, made from the route's schema: each field's own example (or default, or
 * first allowed value), the required fields always and the optional ones that carry an example, so
 * the prefilled body is one the route accepts as it stands, or close to it, and shows the shape.
 * `$ref`s are followed anywhere in `doc` (the provider's document or Gatehouse's own); a schema
 * that refers to itself stops at the second visit instead of nesting without end. Read-only
 * properties are left out: the server writes them.
 */
export function exampleOf(schema: JsonSchema | undefined, doc: object = {}, seen: ReadonlySet<string> = new Set()): unknown {
  if (!schema) return undefined;
  if (schema.$ref) {
    if (seen.has(schema.$ref)) return undefined;
    return exampleOf(resolvePointer(doc, schema.$ref) as JsonSchema | undefined, doc, new Set([...seen, schema.$ref]));
  }
  if (schema.example !== undefined) return schema.example;
  if (schema.examples?.length) return schema.examples[0];
  if (schema.const !== undefined) return schema.const;
  if (schema.default !== undefined) return schema.default;
  if (schema.enum?.length) return schema.enum[0];
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) return exampleOf(branches.find((b) => b.type !== 'null') ?? branches[0], doc, seen);
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s) => exampleOf(s, doc, seen) ?? {}));
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (type === 'object' || schema.properties) {
    const out: Record<string, unknown> = {};
    const required = new Set(schema.required ?? []);
    for (const [name, prop] of Object.entries(schema.properties ?? {})) {
      const resolved = (prop.$ref ? resolvePointer(doc, prop.$ref) : prop) as JsonSchema | undefined;
      if (resolved?.readOnly) continue;
      if (!required.has(name) && resolved?.example === undefined) continue;
      const value = exampleOf(prop, doc, seen);
      if (value !== undefined) out[name] = value;
    }
    return out;
  }
  if (type === 'array') {
    const item = exampleOf(schema.items, doc, seen);
    return item === undefined ? [] : [item];
  }
  if (type === 'integer' || type === 'number') return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
  if (type === 'boolean') return false;
  if (type === 'string') {
    if (schema.format === 'date-time') return new Date(Date.now() + 30 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
    if (schema.format === 'date') return new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
    if (schema.format === 'uri' || schema.format === 'url') return 'https://example.com/webhooks';
    if (schema.format === 'email') return 'someone@example.com';
    return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
  }
  return undefined;
}

export function routesOf(doc: Doc): RouteOption[] {
  const out: RouteOption[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      const json = op.requestBody?.content?.['application/json'];
      out.push({
        method: m.toUpperCase(),
        path,
        summary: op.summary ?? '',
        params: [...path.matchAll(/\{(\w+)\}/g)].map((x) => x[1]!),
        hasBody: !!op.requestBody,
        example: json?.example ?? exampleOf(json?.schema, doc),
      });
    }
  }
  return out;
}

/** The request as a shell command; the key is read from an environment variable, never pasted in. */
export function curlOf(o: { method: string; url: string; body?: string }): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const parts = [`curl -i -X ${o.method} ${q(o.url)}`, `-H "x-api-key: $GATEHOUSE_API_KEY"`];
  if (o.body) parts.push(`-H 'content-type: application/json'`, `--data ${q(o.body)}`);
  return parts.join(' \\\n  ');
}

/**
 * A verification's refusal: `POST /v1/keys/verify` answers 200 whether or not the key may act (the
 * call worked; the verdict is in the body), so `{"valid": false, "code": "RATE_LIMITED"}` must read
 * as a refusal however green the status. Undefined for any other body.
 */
export function refusalOf(body: string): { code?: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || (parsed as { valid?: unknown }).valid !== false) return undefined;
  const code = (parsed as { code?: unknown }).code;
  return { code: typeof code === 'string' ? code : undefined };
}
