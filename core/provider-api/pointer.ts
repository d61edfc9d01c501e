/** JSON pointers (RFC 6901) into an OpenAPI document. */

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
const unescape = (token: string) => token.replace(/~1/g, '/').replace(/~0/g, '~');

/** What `#/components/schemas/Thing` names in `doc`, or undefined when it names nothing. */
export function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let tokens: string[];
  try {
    tokens = decodeURIComponent(ref.slice(1)).split('/').slice(1).map(unescape);
  } catch {
    return undefined;
  }
  let at: unknown = doc;
  for (const token of tokens) {
    if (!at || typeof at !== 'object' || !Object.hasOwn(at, token)) return undefined;
    at = (at as Record<string, unknown>)[token];
  }
  return at;
}

/** Every `$ref` in the document, with the pointer of the object holding it. */
export function refsOf(doc: unknown): { path: string; ref: string }[] {
  const out: { path: string; ref: string }[] = [];
  const walk = (value: unknown, path: string) => {
    if (!value || typeof value !== 'object') return;
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, `${path}/${i}`));
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push({ path: `${path}/$ref`, ref: v });
      else walk(v, `${path}/${escape(k)}`);
    }
  };
  walk(doc, '');
  return out;
}

/**
 * The JSON pointer of each line of `JSON.stringify(value, null, 2)`, by line index: the pointer of
 * the value that starts (or closes) there. Circular structures are printed by no one, so none occur.
 */
export function pointerOf(value: unknown): string[] {
  const lines: string[] = [];
  const walk = (v: unknown, path: string) => {
    lines.push(path); // the line this value starts on (a key's line for an object member)
    if (!v || typeof v !== 'object') return;
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v).filter(([, x]) => x !== undefined && typeof x !== 'function');
    if (entries.length === 0) return;
    for (const [k, x] of entries) walk(x, `${path}/${escape(k)}`);
    lines.push(path); // the closing bracket
  };
  walk(value, '');
  return lines;
}
