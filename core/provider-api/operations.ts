import type { OpenApiDocument } from './document.js';
import { resolvePointer } from './pointer.js';

export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type Method = (typeof METHODS)[number];

export interface ParameterView {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  /** The schema's type (`string`, `integer`, `array`…); `string` when the document says none. */
  type: string;
  description: string;
  enum?: unknown[];
  example?: unknown;
}

export interface OperationView {
  /** The document's operationId, else `METHOD path` (unique either way). */
  operationId: string;
  method: string;
  path: string;
  summary: string;
  description: string;
  tags: string[];
  parameters: ParameterView[];
  /** Null when the operation takes no body. */
  body: {
    required: boolean;
    contentType: string;
    /** The request schema as written; its `$ref`s are resolved against `components` (the playground makes the example). */
    schema: unknown;
    /** The media type's own example, when the document gives one. */
    example?: unknown;
  } | null;
}

export interface OperationGroup {
  tag: string;
  operations: OperationView[];
}

type Obj = Record<string, unknown>;

/** An object or a `$ref` to one (parameters, request bodies, schemas), followed to what it names; cycle-safe. */
function deref(doc: OpenApiDocument, value: unknown): Obj | undefined {
  const seen = new Set<string>();
  let at = value;
  while (at && typeof at === 'object' && typeof (at as Obj)['$ref'] === 'string') {
    const ref = (at as Obj)['$ref'] as string;
    if (seen.has(ref)) return undefined;
    seen.add(ref);
    at = resolvePointer(doc, ref);
  }
  return at && typeof at === 'object' ? (at as Obj) : undefined;
}

function typeOf(doc: OpenApiDocument, schema: unknown): string {
  const s = deref(doc, schema);
  const t = s?.['type'];
  if (Array.isArray(t)) return String(t.find((x) => x !== 'null') ?? 'string');
  return typeof t === 'string' ? t : 'string';
}

/** JSON first (`application/json`, then any `+json`), else whatever the operation accepts first. */
function pickContent(content: Obj): [string, Obj] | undefined {
  const types = Object.keys(content);
  const type = types.find((t) => t.split(';')[0]!.trim() === 'application/json') ?? types.find((t) => /\+json\b/.test(t)) ?? types[0];
  return type === undefined ? undefined : [type, (content[type] ?? {}) as Obj];
}

/** A media type's own example: `example`, else the first of `examples` (followed through `$ref`). */
function mediaExample(doc: OpenApiDocument, media: Obj): unknown {
  if (media['example'] !== undefined) return media['example'];
  const examples = media['examples'] as Obj | undefined;
  const first = examples && Object.values(examples)[0];
  return first === undefined ? undefined : deref(doc, first)?.['value'];
}

/** Every operation of a registered document, in document order. */
export function operationsOf(doc: OpenApiDocument): OperationView[] {
  const out: OperationView[] = [];
  for (const [path, rawItem] of Object.entries((doc['paths'] ?? {}) as Obj)) {
    const item = deref(doc, rawItem);
    if (!item) continue;
    for (const method of METHODS) {
      const op = item[method] as Obj | undefined;
      if (!op || typeof op !== 'object') continue;
      // Operation-level parameters override the path item's of the same name and place.
      const byKey = new Map<string, Obj>();
      for (const raw of [...((item['parameters'] as unknown[]) ?? []), ...((op['parameters'] as unknown[]) ?? [])]) {
        const p = deref(doc, raw);
        if (p && typeof p['name'] === 'string') byKey.set(`${String(p['in'])}:${p['name']}`, p);
      }
      const parameters: ParameterView[] = [];
      for (const p of byKey.values()) {
        const where = p['in'];
        if (where !== 'path' && where !== 'query' && where !== 'header') continue; // cookies: the proxy sends none
        const schema = deref(doc, p['schema']);
        parameters.push({
          name: p['name'] as string,
          in: where,
          required: where === 'path' || p['required'] === true,
          type: typeOf(doc, p['schema']),
          description: typeof p['description'] === 'string' ? p['description'] : '',
          ...(Array.isArray(schema?.['enum']) ? { enum: schema['enum'] as unknown[] } : {}),
          ...(p['example'] !== undefined ? { example: p['example'] } : schema?.['example'] !== undefined ? { example: schema['example'] } : {}),
        });
      }
      const requestBody = deref(doc, op['requestBody']);
      const content = requestBody && pickContent((requestBody['content'] ?? {}) as Obj);
      const example = content ? mediaExample(doc, content[1]) : undefined;
      out.push({
        operationId: typeof op['operationId'] === 'string' ? op['operationId'] : `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        summary: typeof op['summary'] === 'string' ? op['summary'] : '',
        description: typeof op['description'] === 'string' ? op['description'] : '',
        tags: Array.isArray(op['tags']) ? op['tags'].filter((t): t is string => typeof t === 'string') : [],
        parameters,
        body: content
          ? { required: requestBody['required'] === true, contentType: content[0], schema: content[1]['schema'] ?? {}, ...(example !== undefined ? { example } : {}) }
          : null,
      });
    }
  }
  return out;
}

/** Operations grouped by their first tag, in the order the document's `tags` list them, untagged last. */
export function groupByTag(doc: OpenApiDocument, operations: OperationView[]): OperationGroup[] {
  const groups = new Map<string, OperationView[]>();
  const declared = ((doc['tags'] as { name?: unknown }[] | undefined) ?? []).map((t) => t.name).filter((n): n is string => typeof n === 'string');
  for (const tag of declared) groups.set(tag, []);
  for (const op of operations) {
    const tag = op.tags[0] ?? 'other';
    groups.set(tag, [...(groups.get(tag) ?? []), op]);
  }
  const other = groups.get('other');
  if (other && !declared.includes('other')) {
    groups.delete('other');
    groups.set('other', other);
  }
  return [...groups].filter(([, ops]) => ops.length > 0).map(([tag, ops]) => ({ tag, operations: ops }));
}

/**
 * The operation a request names: by operationId, or by method and path, the path either a template
 * of the document (`/things/{id}`) or a concrete path matching one (`/things/42`). Undefined when the
 * document has no such operation.
 */
export function findOperation(
  operations: OperationView[],
  by: { operationId?: string; method?: string; path?: string },
): { op: OperationView; pathParams: Record<string, string> } | undefined {
  if (by.operationId !== undefined) {
    const op = operations.find((o) => o.operationId === by.operationId);
    return op && { op, pathParams: {} };
  }
  const method = by.method?.toUpperCase();
  const candidates = operations.filter((o) => o.method === method);
  const exact = candidates.find((o) => o.path === by.path);
  if (exact) return { op: exact, pathParams: {} };
  const segments = (by.path ?? '').split('/');
  for (const op of candidates) {
    const template = op.path.split('/');
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = template.every((t, i) => {
      const name = /^\{([^}]+)\}$/.exec(t)?.[1];
      if (name === undefined) return t === segments[i];
      if (!segments[i]) return false;
      try {
        params[name] = decodeURIComponent(segments[i]!);
      } catch {
        return false;
      }
      return true;
    });
    if (matches) return { op, pathParams: params };
  }
  return undefined;
}
