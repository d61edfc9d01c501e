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
  requestBody?: { content?: Record<string, { example?: unknown; schema?: { example?: unknown } }> };
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export function routesOf(doc: { paths?: Record<string, Partial<Record<string, Operation>>> }): RouteOption[] {
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
        example: json?.example ?? json?.schema?.example,
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
