import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../core/bootstrap.js';
import { notifyKeyChanged } from '../../core/keys/notify.js';
import { authenticate } from '../../server/auth/authenticate.js';
import { startStack, type Stack } from '../harness.js';

// Every start runs bootstrap (and the supervisor restarts a crashed API): whatever was done to
// the bootstrap key through the API must survive it, and what start-up itself does is audited.
let stack: Stack;
let admin: string;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  // A second admin key, to look at the bootstrap key once it no longer works.
  const res = await stack.rest('POST', '/api-keys', { body: { id: 'second-admin', permissions: ['admin'] } });
  expect(res.status).toBe(201);
  admin = res.body.api_key;
});
afterAll(() => stack.close());

const em = () => stack.orm.em.fork() as never;

function capturingLog(): { log: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines, text: () => JSON.stringify(lines) };
}

interface AuditEntry {
  action: string;
  actor_key_id: string | null;
  changes: Record<string, unknown>;
}

async function bootstrapAudit(): Promise<AuditEntry[]> {
  const res = await stack.rest('GET', '/audit-log?key_id=bootstrap&limit=500', { key: admin });
  expect(res.status).toBe(200);
  return (res.body.entries as AuditEntry[]).reverse();
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const bootstrapKey = async () => (await stack.rest('GET', '/api-keys/bootstrap', { key: admin })).body;

describe('bootstrap at start-up', () => {
  it('created key bootstrap with an audit entry by Gatehouse, showing at most 4 characters of the chosen secret', async () => {
    expect((await bootstrapKey()).start).toBe(`${stack.bootstrapKey.slice(0, 4)}***`);
    const entries = await bootstrapAudit();
    expect(entries[0]).toMatchObject({ action: 'key.created', actor_key_id: null, changes: { source: 'GATEHOUSE_BOOTSTRAP_KEY', permissions: ['admin', 'operator'] } });
    // The harness's secret is `bootstrap-<48 hex>`: no part of the random tail may show.
    expect(JSON.stringify(entries)).not.toContain(stack.bootstrapKey.slice(10, 16));
  });

  it('without the setting, the first admin key it creates is audited too', async () => {
    const config = { ...stack.config, GATEHOUSE_BOOTSTRAP_KEY: undefined, GATEHOUSE_DEFAULT_WORKSPACE: 'first-start' };
    const { createdSecret } = await bootstrap(em(), config, capturingLog().log);
    const res = await stack.rest('GET', '/audit-log?key_id=admin', { key: createdSecret! });
    expect(res.body.entries).toMatchObject([{ action: 'key.created', actor_key_id: null, target_id: 'admin' }]);
  });

  it('a changed setting replaces the secret with a key.updated entry; an unchanged one changes and records nothing', async () => {
    const before = (await bootstrapAudit()).length;
    const quiet = capturingLog();
    await bootstrap(em(), stack.config, quiet.log);
    expect(await bootstrapAudit()).toHaveLength(before);

    const next = 'Zq8-another-bootstrap-secret-of-enough-length';
    const changed = capturingLog();
    await bootstrap(em(), { ...stack.config, GATEHOUSE_BOOTSTRAP_KEY: next }, changed.log);
    // This API process only takes the secret of its own setting: ask PostgreSQL, as a restarted process would.
    expect(await authenticate(em(), next)).toMatchObject({ keyId: 'bootstrap' });
    expect(await authenticate(em(), stack.bootstrapKey)).toBeUndefined();
    const entries = await bootstrapAudit();
    expect(entries).toHaveLength(before + 1);
    expect(entries.at(-1)).toMatchObject({
      action: 'key.updated',
      actor_key_id: null,
      changes: { source: 'GATEHOUSE_BOOTSTRAP_KEY', secret: { from: `${stack.bootstrapKey.slice(0, 4)}***`, to: 'Zq8-***' } },
    });
    expect(changed.text()).not.toContain(next.slice(0, 5));

    await bootstrap(em(), stack.config, capturingLog().log);
    expect((await stack.rest('GET', '/api-keys', { key: stack.bootstrapKey })).status).toBe(200);
  });

  it('a disabled bootstrap key stays disabled, with a warning', async () => {
    expect((await stack.rest('PATCH', '/api-keys/bootstrap', { body: { enabled: false } })).status).toBe(200);
    const restart = capturingLog();
    await bootstrap(em(), stack.config, restart.log);
    expect((await bootstrapKey()).enabled).toBe(false);
    expect((await stack.rest('GET', '/api-keys', { key: stack.bootstrapKey })).status).not.toBe(200);
    expect(restart.lines).toContainEqual(expect.objectContaining({ level: 40, keyId: 'bootstrap', msg: expect.stringMatching(/disabled/) }));
    expect(restart.text()).not.toContain(stack.bootstrapKey);
    // Only an operator may re-enable an operator's key, and this one is the operator: as its owner would, in SQL.
    const [row] = await stack.orm.em
      .fork()
      .execute<{ pk: string }[]>(`update api_key set enabled = true where workspace_id = 'default' and id = 'bootstrap' returning pk`);
    await notifyKeyChanged(stack.orm.em.fork() as never, row!.pk);
    await until(async () => (await stack.rest('GET', '/api-keys')).status === 200);
  });

  it('a revoked bootstrap key stays revoked across restarts, with a warning naming it and never the secret', async () => {
    expect((await stack.rest('POST', '/api-keys/bootstrap/revoke')).status).toBe(200);
    const entriesAfterRevoke = await bootstrapAudit();
    expect(entriesAfterRevoke.at(-1)).toMatchObject({ action: 'key.revoked' });

    const restart = capturingLog();
    await bootstrap(em(), stack.config, restart.log);
    // A restart with a new value of the setting does not bring it back either.
    const changed = 'another-bootstrap-secret-after-revocation-01';
    await bootstrap(em(), { ...stack.config, GATEHOUSE_BOOTSTRAP_KEY: changed }, restart.log);

    expect((await stack.rest('GET', '/api-keys', { key: stack.bootstrapKey })).status).toBe(401);
    expect(await authenticate(em(), stack.bootstrapKey)).toBeUndefined();
    expect(await authenticate(em(), changed)).toBeUndefined();
    const key = await bootstrapKey();
    expect(key.revoked_at).not.toBeNull();
    const warnings = restart.lines.filter((l) => l['level'] === 40);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ keyId: 'bootstrap', workspaceId: 'default', msg: expect.stringMatching(/revoked and stays revoked/) });
    expect(restart.text()).not.toContain(stack.bootstrapKey);
    expect(restart.text()).not.toContain(changed);
    // Start-up did nothing to the key, so it wrote nothing.
    expect(await bootstrapAudit()).toHaveLength(entriesAfterRevoke.length);
    const live = await stack.orm.em
      .fork()
      .execute<{ n: string }[]>(
        `select count(*) as n from api_key_secret s join api_key k on k.pk = s.api_key_pk where k.workspace_id = 'default' and k.id = 'bootstrap' and s.revoked_at is null`,
      );
    expect(Number(live[0]!.n)).toBe(0);
  });
});
