/**
 * The getting-started page's code examples, in the style of the trebol seed's: the base URL and the
 * key as constants at the top, one call, the answer printed. The key shown is a masked start or a
 * placeholder, never a secret: the customer pastes their own.
 */
export interface CallExample {
  baseUrl: string;
  /** The header the key goes in; with `bearer`, `Authorization: Bearer <key>`. */
  keyHeader: string;
  keyScheme: 'header' | 'bearer';
  method: string;
  path: string;
  body?: unknown;
  /** What stands for the key: a masked start (`acme_sk_live_Ab12***`) or a placeholder. */
  key: string;
}

export type Language = 'curl' | 'javascript' | 'python';
export const LANGUAGES: { id: Language; label: string }[] = [
  { id: 'curl', label: 'cURL' },
  { id: 'javascript', label: 'JavaScript' },
  { id: 'python', label: 'Python' },
];

const header = (c: CallExample) => (c.keyScheme === 'bearer' ? 'Authorization' : c.keyHeader);
const indentJson = (body: unknown, pad: string, indent = 2) => JSON.stringify(body, null, indent).replace(/\n/g, `\n${pad}`);
/** Python literals for JSON values: True/False/None where JSON says true/false/null. */
const pythonLiteral = (body: unknown, pad: string) => indentJson(body, pad, 4).replace(/\b(true|false|null)\b(?=(?:[^"]*"[^"]*")*[^"]*$)/g, (m) => ({ true: 'True', false: 'False', null: 'None' })[m]!);
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function curl(c: CallExample): string {
  const value = c.keyScheme === 'bearer' ? `Bearer ${c.key}` : c.key;
  const lines = [`curl -X ${c.method} "${c.baseUrl}${c.path}"`, `  -H ${shellQuote(`${header(c)}: ${value}`)}`];
  if (c.body !== undefined) lines.push(`  -H "Content-Type: application/json"`, `  -d ${shellQuote(JSON.stringify(c.body, null, 2))}`);
  return lines.join(' \\\n');
}

export function javascript(c: CallExample): string {
  const value = c.keyScheme === 'bearer' ? '`Bearer ${API_KEY}`' : 'API_KEY';
  const headers = [`      '${header(c)}': ${value}`];
  if (c.body !== undefined) headers.push(`      'Content-Type': 'application/json'`);
  return [
    `const API_BASE_URL = '${c.baseUrl}';`,
    `const API_KEY = '${c.key}';`,
    ``,
    `const response = await fetch(\`\${API_BASE_URL}${c.path}\`, {`,
    `  method: '${c.method}',`,
    `  headers: {`,
    headers.join(',\n'),
    `  },`,
    ...(c.body !== undefined ? [`  body: JSON.stringify(${indentJson(c.body, '  ')}),`] : []),
    `});`,
    `console.log(response.status, await response.json());`,
  ].join('\n');
}

export function python(c: CallExample): string {
  const value = c.keyScheme === 'bearer' ? "f'Bearer {API_KEY}'" : 'API_KEY';
  const args = [`f'{API_BASE_URL}${c.path}'`, 'headers=headers'];
  if (c.body !== undefined) args.push(`json=${pythonLiteral(c.body, '    ')}`);
  return [
    `import requests`,
    ``,
    `API_BASE_URL = '${c.baseUrl}'`,
    `API_KEY = '${c.key}'`,
    ``,
    `headers = {`,
    `    '${header(c)}': ${value}`,
    `}`,
    ``,
    `response = requests.${c.method.toLowerCase()}(`,
    `    ${args.join(',\n    ')}`,
    `)`,
    `print(response.status_code, response.json())`,
  ].join('\n');
}

export const CALL: Record<Language, (c: CallExample) => string> = { curl, javascript, python };

/** Standard Webhooks verification with the `standardwebhooks` package, on the raw body as received. */
export const WEBHOOK: Record<Exclude<Language, 'curl'>, (secret: string) => string> = {
  javascript: (secret) =>
    [
      `import express from 'express';`,
      `import { Webhook } from 'standardwebhooks';`,
      ``,
      `// The endpoint's signing secret, from its page in the portal.`,
      `const webhook = new Webhook('${secret}');`,
      `const app = express();`,
      ``,
      `// The signature covers the body exactly as sent: read it raw, parse it after.`,
      `app.post('/webhooks', express.raw({ type: 'application/json' }), (req, res) => {`,
      `  try {`,
      `    const event = webhook.verify(req.body, req.headers);`,
      `    console.log('Verified event', req.headers['webhook-id'], event);`,
      `    res.sendStatus(204);`,
      `  } catch {`,
      `    res.sendStatus(400); // wrong signature, or a timestamp older than 5 minutes`,
      `  }`,
      `});`,
      `app.listen(3000);`,
    ].join('\n'),
  python: (secret) =>
    [
      `from flask import Flask, request`,
      `from standardwebhooks.webhooks import Webhook, WebhookVerificationError`,
      ``,
      `# The endpoint's signing secret, from its page in the portal.`,
      `webhook = Webhook('${secret}')`,
      `app = Flask(__name__)`,
      ``,
      `@app.post('/webhooks')`,
      `def receive():`,
      `    try:`,
      `        # The signature covers the body exactly as sent: verify the raw bytes.`,
      `        event = webhook.verify(request.get_data(), dict(request.headers))`,
      `    except WebhookVerificationError:`,
      `        return '', 400  # wrong signature, or a timestamp older than 5 minutes`,
      `    print('Verified event', request.headers['webhook-id'], event)`,
      `    return '', 204`,
    ].join('\n'),
};
