import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret, maskSecret } from '../../core/keys/secret.js';
import { startKeyVerifier } from '../../core/keys/verifier.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false, env: { GATEHOUSE_MAX_WEBHOOK_ENDPOINTS: '3' } });
});
afterAll(() => stack.close());

async function until<T>(read: () => Promise<T> | T, done: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function endpointCount(workspaceId: string): Promise<number> {
  const [row] = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from webhook_endpoint where workspace_id = ?`, [workspaceId]);
  return Number(row!.n);
}

const create = (key: string, n: number | string) => stack.rest('POST', '/webhooks', { key, body: { url: `https://93.184.215.14/hook/${n}` } });

describe('webhook endpoints per workspace are capped (GATEHOUSE_MAX_WEBHOOK_ENDPOINTS)', () => {
  it('one more than the cap is a 409 that states the limit, by REST and tRPC; deleting one makes room', async () => {
    const { workspaceId, secret } = await stack.workspace(['admin']);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await create(secret, i);
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const over = await create(secret, 'over');
    expect(over.status).toBe(409);
    expect(over.body.error.message).toBe(
      'This workspace has reached its limit of 3 webhook endpoints (GATEHOUSE_MAX_WEBHOOK_ENDPOINTS); delete one before creating another',
    );
    const caller = await stack.caller(secret);
    await expect(caller.webhooks.create({ url: 'https://93.184.215.14/hook/trpc' })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/limit of 3/) });
    expect(await endpointCount(workspaceId)).toBe(3);

    expect((await stack.rest('DELETE', `/webhooks/${ids[0]}`, { key: secret })).status).toBeLessThan(300);
    expect((await create(secret, 'again')).status).toBe(201);
    expect(await endpointCount(workspaceId)).toBe(3);
  });

  it('holds under concurrent creation: 12 at once, exactly 3 made', async () => {
    const { workspaceId, secret } = await stack.workspace(['admin']);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => create(secret, i)));
    expect(results.map((r) => r.status).sort()).toEqual([...Array(3).fill(201), ...Array(9).fill(409)]);
    expect(await endpointCount(workspaceId)).toBe(3);
  });

  it("is per workspace: one at its cap does not hold back another", async () => {
    const full = await stack.workspace(['admin']);
    for (let i = 0; i < 3; i++) expect((await create(full.secret, i)).status).toBe(201);
    const other = await stack.workspace(['admin']);
    expect((await create(other.secret, 0)).status).toBe(201);
  });
});

describe('a chosen secret is masked to 4 characters', () => {
  it('shows 4 characters of a secret not in Gatehouse format, and the usual start of one in it', () => {
    expect(maskSecret('correct-horse-battery-staple-000000000000')).toBe('corr***');
    const generated = generateSecret('gate', 'live');
    expect(maskSecret(generated)).toBe(`${generated.slice(0, 17)}***`);
  });
});

describe('a lost PostgreSQL connection is logged without the client', () => {
  it('logs message and code only: no connection parameters, password or cancel key', async () => {
    const lines: Record<string, unknown>[] = [];
    const log: Logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const verifier = await startKeyVerifier({ databaseUrl: stack.databaseUrl, pepper: stack.config.GATEHOUSE_KEY_PEPPER, log });
    try {
      // A look-up leaves an idle connection in the verification pool; killing it makes the pool report it.
      await verifier.lookup(generateSecret('gate', 'live'));
      const kill = () =>
        stack.orm.em
          .fork()
          .execute(
            `select pg_terminate_backend(pid) from pg_stat_activity
              where datname = current_database() and application_name in ('gatehouse-verify', 'gatehouse-key-listener') and pid <> pg_backend_pid()`,
          );
      await kill();
      const warned = (msg: RegExp) => lines.filter((l) => typeof l['msg'] === 'string' && msg.test(l['msg']));
      await until(
        () => [warned(/verification pool/), warned(/key change listener/)],
        ([pool, listener]) => pool!.length > 0 && listener!.length > 0,
      );
      for (const line of [...warned(/verification pool/), ...warned(/key change listener/)]) {
        const err = line['error'] as Record<string, unknown>;
        expect(line['err']).toBeUndefined();
        expect(Object.keys(err).sort(), JSON.stringify(line)).toEqual(['code', 'message']);
        expect(err['code']).toBe('57P01');
      }
      const text = JSON.stringify(lines);
      expect(text).not.toMatch(/secretKey|processID|connectionParameters|"password"|"client"/);
      const password = new URL(stack.databaseUrl).password;
      if (password) expect(text).not.toContain(decodeURIComponent(password));
    } finally {
      await verifier.stop();
    }
  });
});
