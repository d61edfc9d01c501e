import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonWithRequests } from '../../scripts/venv.js';
import { startStack, type Stack } from '../harness.js';

/**
 * The seed page's cURL, JavaScript and Python examples, read from a verbatim copy of the page and
 * run as they are: only the base URL and the placeholder key are replaced.
 */
const run = promisify(execFile);
const SEED = new URL('./seed/trebol-api-keys.txt', import.meta.url);

let stack: Stack;
let secret: string;
let dir: string;
let page: string;

function between(text: string, start: string, end: string): string {
  const i = text.indexOf(start);
  const j = text.indexOf(end, i + start.length);
  if (i < 0 || j < 0) throw new Error(`seed page changed: no section between '${start}' and '${end}'`);
  return text.slice(i + start.length, j).trim();
}

const localize = (code: string) => code.replaceAll('https://api.gotrebol.com', stack.url).replaceAll('tu_api_key_aqui', secret);

/** The Python that `npm run setup` made sure can import requests; a clear failure without one, never a skip. */
function python(): string {
  const found = pythonWithRequests();
  if (!found) throw new Error("the seed page's Python example needs the `requests` package: run `npm run setup`, which installs it into .venv");
  return found;
}

beforeAll(async () => {
  stack = await startStack({ worker: false });
  page = await readFile(SEED, 'utf8');
  // Trebol's own workspace, so secrets look like the seed's `treb_sk_live_…`.
  const ws = await stack.rest('POST', '/workspaces', { body: { id: 'trebol', name: 'Trebol', key_prefix: 'treb' } });
  expect(ws.status).toBe(201);
  secret = ws.body.admin_key.api_key;
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-seed-'));
});
afterAll(() => stack.close());

const keyIds = async () => (await stack.rest('GET', '/api-keys?limit=500', { key: secret })).body.api_keys.map((k: { id: string }) => k.id);

describe('the seed page examples, unchanged', () => {
  it('cURL: list, create mi-api-key-1, delete ak_1234567890abcdef', async () => {
    const section = between(page, 'Ejemplo con cURL', 'Ejemplo con JavaScript');
    const commands = section
      .split(/\n\s*\n/)
      .map((block) => block.trim())
      .filter((block) => block.startsWith('curl '));
    expect(commands).toHaveLength(3);
    const [list, create, del] = commands.map(localize) as [string, string, string];

    const listed = JSON.parse((await run('bash', ['-c', list])).stdout);
    expect(listed.api_keys.map((k: { id: string }) => k.id)).toEqual(['admin']);
    expect(listed.api_keys[0].created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);

    const created = JSON.parse((await run('bash', ['-c', create])).stdout);
    expect(created.id).toBe('mi-api-key-1');
    expect(created.api_key).toMatch(/^treb_sk_live_[0-9A-Za-z]{28}$/);
    expect(created.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    // The seed deletes ak_1234567890abcdef: make one with that id first, then run the command as written.
    expect((await stack.rest('POST', '/api-keys', { key: secret, body: { id: 'ak_1234567890abcdef' } })).status).toBe(201);
    const deleted = JSON.parse((await run('bash', ['-c', del])).stdout);
    expect(deleted.message).toMatch(/deleted/);
    expect(await keyIds()).toEqual(['mi-api-key-1', 'admin']);
  });

  it('JavaScript: listApiKeys, createApiKey, deleteApiKey with node', async () => {
    const code = localize(between(page, 'Ejemplo con JavaScript', 'Ejemplo con Python'));
    const file = join(dir, 'seed.mjs');
    await writeFile(
      file,
      `${code}\n\nawait listApiKeys();\nconst created = await createApiKey('api-key-desarrollo-test');\nawait deleteApiKey('api-key-webhook-notificaciones');\nawait deleteApiKey(created.id);\n`,
    );
    await stack.rest('POST', '/api-keys', { key: secret, body: { id: 'api-key-webhook-notificaciones' } });
    const { stdout } = await run(process.execPath, [file]);
    // console.log prints the list over several lines; the other lines are one each.
    expect(stdout).toMatch(/^API Keys: \[/);
    expect(stdout).toContain("id: 'mi-api-key-1'");
    const lines = stdout.trim().split('\n').filter((l) => /^(Nueva API Key|Resultado):/.test(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^Nueva API Key: treb_sk_live_[0-9A-Za-z]{28}$/);
    expect(lines[1]).toBe("Resultado: API key 'api-key-webhook-notificaciones' deleted");
    expect(lines[2]).toBe("Resultado: API key 'api-key-desarrollo-test' deleted");
    expect(await keyIds()).toEqual(['mi-api-key-1', 'admin']);
  });

  it('Python: list_api_keys, create_api_key, delete_api_key with requests', async () => {
    const code = localize(between(page, 'Ejemplo con Python', 'Códigos de Error'));
    const file = join(dir, 'seed.py');
    await writeFile(
      file,
      `${code}\n\nimport json\nprint(json.dumps(list_api_keys()))\ncreated = create_api_key('api-key-integración-crm')\nprint(json.dumps(created))\nprint(json.dumps(create_api_key('api-key-integración-crm')))\nprint(json.dumps(delete_api_key(created['id'])))\nprint(json.dumps(delete_api_key(created['id'])))\nprint(json.dumps(create_api_key(None)))\n`,
    );
    const { stdout } = await run(python(), [file]);
    const [listed, created, duplicate, deleted, missing, generated] = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(listed.api_keys.map((k: { id: string }) => k.id)).toEqual(['mi-api-key-1', 'admin']);
    // The seed's own example id, with its accented letter, works end to end.
    expect(created).toMatchObject({ id: 'api-key-integración-crm' });
    expect(created.api_key).toMatch(/^treb_sk_live_/);
    expect(duplicate.error).toMatchObject({ code: 'conflict' });
    expect(duplicate.error.message).toContain('already exists');
    expect(deleted.message).toBe("API key 'api-key-integración-crm' deleted");
    expect(missing.error).toEqual({ code: 'not_found', message: "API key 'api-key-integración-crm' was not found" });
    expect(generated.id).toMatch(/^ak_[0-9a-f]{16}$/);
  });
});

describe('the seed error table', () => {
  it('400 invalid input, 401 bad key, 404 unknown key on DELETE, 409 existing id on POST: JSON naming the problem', async () => {
    const bad = await stack.rest('POST', '/api-keys', { key: secret, body: { id: 42 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_input');
    expect(bad.body.error.message).toMatch(/^id: /);

    const noKey = await stack.rest('GET', '/api-keys', { key: null });
    expect(noKey.status).toBe(401);
    expect(noKey.body.error.message).toMatch(/x-api-key/);
    const wrongKey = await stack.rest('GET', '/api-keys', { key: 'tu_api_key_aqui' });
    expect(wrongKey.status).toBe(401);

    const missing = await stack.rest('DELETE', '/api-keys/ak_0987654321fedcba', { key: secret });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toContain('ak_0987654321fedcba');

    const dup = await stack.rest('POST', '/api-keys', { key: secret, body: { id: 'mi-api-key-1' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toContain('mi-api-key-1');
  });

  it('500 is JSON too, and a failed create leaves nothing behind', async () => {
    const em = stack.orm.em.fork();
    await em.execute('alter table audit_log rename to audit_log_away');
    try {
      const res = await stack.rest('POST', '/api-keys', { key: secret, body: { id: 'half-made' } });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: { code: 'internal_error', message: 'Internal error; it has been logged' } });
    } finally {
      await em.execute('alter table audit_log_away rename to audit_log');
    }
    expect(await keyIds()).not.toContain('half-made');
  });
});
