import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createLogger } from '../../core/log.js';
import { generateSecret } from '../../core/keys/secret.js';
import { KeyVerifier, TOUCH_EVERY_MS } from '../../core/keys/verifier.js';
import { verifyKey } from '../../core/keys/verify.js';
import { startStack, type Stack } from '../harness.js';
import { changeKey, creditsOf, insertKey } from './keys.js';
import { clearOfWindowEdge } from '../window-edge.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

const verify = (body: Record<string, unknown>, key?: string) => stack.rest('POST', '/v1/keys/verify', { body, key });

/** Flips the last character of the checksum: same shape, wrong CRC32. */
function breakChecksum(secret: string): string {
  const last = secret.at(-1)!;
  return secret.slice(0, -1) + (last === 'A' ? 'B' : 'A');
}

describe('POST /v1/keys/verify', () => {
  it('answers VALID with the key id, permissions and no limits for a plain key', async () => {
    const key = await insertKey(stack, { permissions: ['products:write'] });
    const res = await verify({ key: key.secret });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      valid: true,
      code: 'VALID',
      key_id: key.id,
      permissions: ['products:write'],
      ratelimit: null,
      quota: null,
      credits: null,
      expires_at: null,
    });
  });

  it('answers NOT_FOUND for an unknown key, with nothing about any key', async () => {
    const res = await verify({ key: generateSecret('gate', 'live') });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ valid: false, code: 'NOT_FOUND', key_id: null, permissions: [] });
  });

  it('runs the checks in order: each key fails every later check too, and gets the earliest code', async () => {
    const past = new Date(Date.now() - 60_000);
    const tight = [{ name: 'tight', limit: 0, windowSeconds: 3600 }];
    const everything = { ipAllowlist: ['10.0.0.0/8'], permissions: [], rateLimits: tight, credits: 0 };
    const disabled = await insertKey(stack, { ...everything, enabled: false, expiresAt: past });
    const expired = await insertKey(stack, { ...everything, expiresAt: past });
    const forbidden = await insertKey(stack, everything);
    const unpermitted = await insertKey(stack, { ...everything, ipAllowlist: [] });
    const limited = await insertKey(stack, { ...everything, ipAllowlist: [], permissions: ['products:write'] });
    const exhausted = await insertKey(stack, { ...everything, ipAllowlist: [], permissions: ['products:write'], rateLimits: [] });
    const cases: [typeof disabled, string][] = [
      [disabled, 'DISABLED'],
      [expired, 'EXPIRED'],
      [forbidden, 'FORBIDDEN'],
      [unpermitted, 'INSUFFICIENT_PERMISSIONS'],
      [limited, 'RATE_LIMITED'],
      [exhausted, 'USAGE_EXCEEDED'],
    ];
    for (const [key, code] of cases) {
      const res = await verify({ key: key.secret, permission: 'products:write', ip: '192.0.2.1' });
      expect({ code: res.body.code, valid: res.body.valid, keyId: res.body.key_id }).toEqual({ code, valid: false, keyId: key.id });
    }
    // Credits are charged only after rate limits pass: a rate-limited key that has credits keeps them all.
    const limitedWithCredits = await insertKey(stack, { ...everything, ipAllowlist: [], permissions: ['products:write'], credits: 5 });
    const refused = await verify({ key: limitedWithCredits.secret, permission: 'products:write', cost: 2 });
    expect(refused.body.code).toBe('RATE_LIMITED');
    expect(await creditsOf(stack, limitedWithCredits.pk)).toBe(5);
  });

  it('reports the expiry of a key that has not expired yet', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000);
    const key = await insertKey(stack, { expiresAt });
    const res = await verify({ key: key.secret });
    expect(res.body).toMatchObject({ code: 'VALID', expires_at: expiresAt.toISOString() });
  });

  it('a key of another workspace is NOT_FOUND, exactly like an unknown one', async () => {
    const other = await stack.workspace(['admin']);
    const theirs = await insertKey(stack, { workspaceId: other.workspaceId, permissions: ['products:write'] });
    const res = await verify({ key: theirs.secret });
    expect(res.body).toEqual({
      valid: false,
      code: 'NOT_FOUND',
      key_id: null,
      permissions: [],
      ratelimit: null,
      quota: null,
      credits: null,
      expires_at: null,
    });
    // Their own verifier sees it.
    expect((await verify({ key: theirs.secret }, other.secret)).body.code).toBe('VALID');
  });

  it('checks IP allowlists with IPv4 and IPv6 CIDRs, and the caller address by default', async () => {
    const key = await insertKey(stack, { ipAllowlist: ['10.0.0.0/8', '2001:db8::/32', '198.51.100.7'] });
    const code = async (ip?: string) => (await verify(ip ? { key: key.secret, ip } : { key: key.secret })).body.code;
    expect(await code('10.20.30.40')).toBe('VALID');
    expect(await code('2001:db8:1::5')).toBe('VALID');
    expect(await code('198.51.100.7')).toBe('VALID');
    expect(await code('198.51.100.8')).toBe('FORBIDDEN');
    expect(await code('2001:db9::1')).toBe('FORBIDDEN');
    // This request comes from 127.0.0.1, which the list does not hold.
    expect(await code()).toBe('FORBIDDEN');
    const local = await insertKey(stack, { ipAllowlist: ['127.0.0.0/8'] });
    expect((await verify({ key: local.secret })).body.code).toBe('VALID');
  });

  it('evaluates permission expressions with AND, OR, parentheses, wildcards and presets', async () => {
    const key = await insertKey(stack, { permissions: ['products:write', 'orders:*', 'read-only'] });
    const code = async (permission: string) => (await verify({ key: key.secret, permission })).body.code;
    expect(await code('products:write')).toBe('VALID');
    expect(await code('products:read')).toBe('INSUFFICIENT_PERMISSIONS');
    expect(await code('orders:delete')).toBe('VALID');
    expect(await code('products:write AND orders:read')).toBe('VALID');
    expect(await code('products:write AND billing:read')).toBe('INSUFFICIENT_PERMISSIONS');
    expect(await code('billing:read OR (products:write AND keys:read)')).toBe('VALID');
    expect(await code('billing:read OR (products:write AND keys:write)')).toBe('INSUFFICIENT_PERMISSIONS');
    expect(await code('billing:read or products:write and orders:x')).toBe('VALID');
    expect(await code('read-only')).toBe('VALID');
    expect(await code('write')).toBe('INSUFFICIENT_PERMISSIONS');
  });

  it('refuses a malformed permission expression with a 400 naming the field', async () => {
    const key = await insertKey(stack);
    for (const permission of ['products:write AND', '(a:b OR c:d', 'a:b c:d', 'NOT a:b', 'a:b OR ) c:d', 'Products:Write']) {
      const res = await verify({ key: key.secret, permission });
      expect(res.status, permission).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_input', field: 'permission' });
    }
  });

  it('refuses malformed bodies with a 400 naming the field, and never echoes the key', async () => {
    const missing = await verify({});
    expect(missing.status).toBe(400);
    expect(missing.body.error.field).toBe('key');
    const badIp = await verify({ key: 'gate_sk_live_whatever', ip: 'not-an-ip' });
    expect(badIp.status).toBe(400);
    expect(badIp.body.error.field).toBe('ip');
    expect(JSON.stringify(badIp.body)).not.toContain('gate_sk_live_whatever');
    const badCost = await verify({ key: 'x', cost: -1 });
    expect(badCost.body.error.field).toBe('cost');
  });

  it('needs a key with keys:verify', async () => {
    expect((await verify({ key: 'x' }, null as never)).status).toBe(401);
    const readOnly = await stack.workspace(['read-only']);
    const res = await verify({ key: 'x' }, readOnly.secret);
    expect(res.status).toBe(403);
  });

  it('is available over tRPC as keys.verify', async () => {
    const key = await insertKey(stack, { permissions: ['products:write'], credits: 5 });
    const caller = await stack.caller();
    const r = await caller.keys.verify({ key: key.secret, permission: 'products:write', cost: 2 });
    expect(r).toMatchObject({ valid: true, code: 'VALID', keyId: key.id, credits: 3 });
    await expect(caller.keys.verify({ key: key.secret, permission: 'AND' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('the checksum gate', () => {
  it('refuses a mistyped key without any database query', async () => {
    const key = await insertKey(stack);
    const before = stack.deps.verifier.queries;
    const res = await verify({ key: breakChecksum(key.secret) });
    expect(res.body.code).toBe('NOT_FOUND');
    expect((await verify({ key: 'definitely-not-a-gatehouse-key-of-some-length' })).body.code).toBe('NOT_FOUND');
    expect(stack.deps.verifier.queries).toBe(before);
  });

  it('answers NOT_FOUND for a bad checksum even with PostgreSQL unreachable, where a well-formed key needs it', async () => {
    const offline = new KeyVerifier({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', log: createLogger('silent') });
    try {
      const key = generateSecret('gate', 'live');
      const bad = await verifyKey({ secret: breakChecksum(key), workspaceId: 'default' }, { verifier: offline });
      expect(bad.code).toBe('NOT_FOUND');
      await expect(verifyKey({ secret: key, workspaceId: 'default' }, { verifier: offline })).rejects.toThrow();
    } finally {
      await offline.stop();
    }
  });

  it('exempts only the configured bootstrap key from the format', async () => {
    expect((await verify({ key: stack.bootstrapKey })).body.code).toBe('VALID');
    expect((await verify({ key: stack.bootstrapKey.slice(0, -1) + 'x' })).body.code).toBe('NOT_FOUND');
  });
});

describe('credits', () => {
  it('are charged by cost and never go below zero under concurrency', async () => {
    const key = await insertKey(stack, { credits: 20 });
    const results = await Promise.all(
      Array.from({ length: 60 }, () => verifyKey({ secret: key.secret, workspaceId: key.workspaceId }, stack.deps)),
    );
    expect(results.filter((r) => r.code === 'VALID')).toHaveLength(20);
    expect(results.filter((r) => r.code === 'USAGE_EXCEEDED')).toHaveLength(40);
    expect(results.every((r) => r.credits !== null && r.credits >= 0)).toBe(true);
    expect(await creditsOf(stack, key.pk)).toBe(0);

    const costly = await insertKey(stack, { credits: 5 });
    expect((await verify({ key: costly.secret, cost: 3 })).body).toMatchObject({ code: 'VALID', credits: 2 });
    expect((await verify({ key: costly.secret, cost: 3 })).body).toMatchObject({ code: 'USAGE_EXCEEDED', credits: 2 });
    expect((await verify({ key: costly.secret, cost: 0 })).body).toMatchObject({ code: 'VALID', credits: 2 });
  });

  it('are charged only once the rate limits passed', async () => {
    const key = await insertKey(stack, { credits: 10, rateLimits: [{ name: 'burst', limit: 3, windowSeconds: 3600 }] });
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await verify({ key: key.secret })).body.code);
    expect(codes).toEqual(['VALID', 'VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(await creditsOf(stack, key.pk)).toBe(7);
  });

  it('refill daily and monthly, lazily, to the refill amount', async () => {
    const yesterday = new Date(Date.now() - 26 * 3600_000);
    const daily = await insertKey(stack, { credits: 0, refill: { amount: 5, interval: 'daily', lastRefill: yesterday } });
    expect((await verify({ key: daily.secret })).body).toMatchObject({ code: 'VALID', credits: 4 });
    expect((await verify({ key: daily.secret })).body).toMatchObject({ code: 'VALID', credits: 3 });

    const lastMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1) - 86_400_000);
    const monthly = await insertKey(stack, { credits: 1, refill: { amount: 100, interval: 'monthly', lastRefill: lastMonth } });
    expect((await verify({ key: monthly.secret, cost: 10 })).body).toMatchObject({ code: 'VALID', credits: 90 });

    const fresh = await insertKey(stack, { credits: 0, refill: { amount: 5, interval: 'daily', lastRefill: new Date() } });
    expect((await verify({ key: fresh.secret })).body).toMatchObject({ code: 'USAGE_EXCEEDED', credits: 0 });
  });

  it('refill only once when many callers race across the boundary', async () => {
    const yesterday = new Date(Date.now() - 26 * 3600_000);
    const key = await insertKey(stack, { credits: 0, refill: { amount: 10, interval: 'daily', lastRefill: yesterday } });
    const results = await Promise.all(
      Array.from({ length: 30 }, () => verifyKey({ secret: key.secret, workspaceId: key.workspaceId }, stack.deps)),
    );
    expect(results.filter((r) => r.valid)).toHaveLength(10);
    expect(await creditsOf(stack, key.pk)).toBe(0);
  });
});

describe('rate limits', () => {
  it('are exact under 200 concurrent callers in one process', async () => {
    const key = await insertKey(stack, { rateLimits: [{ name: 'per-hour', limit: 50, windowSeconds: 3600 }] });
    const results = await Promise.all(
      Array.from({ length: 200 }, () => verifyKey({ secret: key.secret, workspaceId: key.workspaceId }, stack.deps)),
    );
    expect(results.filter((r) => r.code === 'VALID')).toHaveLength(50);
    expect(results.filter((r) => r.code === 'RATE_LIMITED')).toHaveLength(150);
    const remaining = results.filter((r) => r.valid).map((r) => r.ratelimit!.remaining).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(results.every((r) => r.ratelimit!.limit === 50 && r.ratelimit!.reset > Date.now())).toBe(true);
  });

  it('are exact over HTTP too, and each of several limits applies', async () => {
    const key = await insertKey(stack, {
      rateLimits: [
        { name: 'per-hour', limit: 100, windowSeconds: 3600 },
        { name: 'per-day', limit: 30, windowSeconds: 86_400 },
      ],
    });
    const results = await Promise.all(Array.from({ length: 80 }, () => verify({ key: key.secret })));
    expect(results.filter((r) => r.body.code === 'VALID')).toHaveLength(30);
    const refused = results.find((r) => r.body.code === 'RATE_LIMITED')!;
    expect(refused.body.ratelimit).toMatchObject({ limit: 30, remaining: 0 });
    // The refused requests gave back what the other limit had taken: 30 used of 100, not 80.
    const [row] = await stack.orm.em
      .fork()
      .execute<{ count: number }[]>(`select count from rate_limit_counter where key_pk = ? and name = 'per-hour'`, [key.pk]);
    expect(row!.count).toBe(30);
  });

  it('weigh the previous window (sliding window)', async () => {
    const key = await insertKey(stack, { rateLimits: [{ name: 'per-hour', limit: 10, windowSeconds: 3600 }] });
    const windowMs = 3_600_000;
    const previous = Math.floor(Date.now() / windowMs) * windowMs - windowMs;
    const share = 1 - (Date.now() % windowMs) / windowMs;
    await stack.orm.em
      .fork()
      .execute(`insert into rate_limit_counter (key_pk, name, window_start, count, granted, expires_at) values (?, 'per-hour', ?, 10, 10, ?)`, [
        key.pk,
        previous,
        previous + 2 * windowMs,
      ]);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => verifyKey({ secret: key.secret, workspaceId: key.workspaceId }, stack.deps)),
    );
    const allowed = results.filter((r) => r.valid).length;
    // floor(10 * share) of the previous window still counts; the share shrinks while the test runs.
    expect(allowed).toBeGreaterThanOrEqual(10 - Math.floor(10 * share));
    expect(allowed).toBeLessThanOrEqual(10 - Math.floor(10 * share) + 1);
  });
});

describe("Gatehouse's own API and the calling key's rate limit", () => {
  it('answers 429 with RateLimit-* and Retry-After once the calling key is over its limit', async () => {
    const caller = await insertKey(stack, { permissions: ['keys:verify'], rateLimits: [{ name: 'api', limit: 2, windowSeconds: 60 }] });
    await clearOfWindowEdge(60);
    const target = await insertKey(stack);
    const first = await verify({ key: target.secret }, caller.secret);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-limit')).toBe('2');
    expect(first.headers.get('ratelimit-remaining')).toBe('1');
    expect((await verify({ key: target.secret }, caller.secret)).status).toBe(200);
    const third = await verify({ key: target.secret }, caller.secret);
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('rate_limited');
    expect(third.headers.get('ratelimit-limit')).toBe('2');
    expect(third.headers.get('ratelimit-remaining')).toBe('0');
    const reset = Number(third.headers.get('ratelimit-reset'));
    expect(reset).toBeGreaterThanOrEqual(1);
    expect(reset).toBeLessThanOrEqual(60);
    expect(Number(third.headers.get('retry-after'))).toBe(reset);
  });

  it('answers TOO_MANY_REQUESTS over tRPC', async () => {
    const caller = await insertKey(stack, { permissions: ['keys:verify'], rateLimits: [{ name: 'api', limit: 1, windowSeconds: 60 }] });
    await clearOfWindowEdge(60);
    const trpc = await stack.caller(caller.secret);
    await trpc.keys.verify({ key: 'x' });
    await expect(trpc.keys.verify({ key: 'x' })).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
  });
});

describe('the key cache', () => {
  it('sees a revoke, a disable and a permission change from the change notification, not the cache expiring', async () => {
    const key = await insertKey(stack, { permissions: ['products:write'] });
    const code = async (permission?: string) => (await verify({ key: key.secret, permission })).body.code;
    expect(await code('products:write')).toBe('VALID');
    await changeKey(stack, key.pk, `permissions = '["products:read"]'::jsonb`);
    await eventually(() => code('products:write'), 'INSUFFICIENT_PERMISSIONS');
    await changeKey(stack, key.pk, 'enabled = false');
    await eventually(() => code(), 'DISABLED');
    await changeKey(stack, key.pk, 'enabled = true, revoked_at = now()');
    await eventually(() => code(), 'NOT_FOUND');
  });

  it('answers repeated verifications from memory, touching last_used_at in batches', async () => {
    // Its 5 s timer would write the touches whenever it fired (once under load, mid-loop: 369 queries, not 368); this test writes them itself.
    await stack.deps.verifier.touches.stop();
    onTestFinished(() => stack.deps.verifier.touches.start(TOUCH_EVERY_MS));
    const key = await insertKey(stack);
    expect((await verify({ key: key.secret })).body.code).toBe('VALID');
    const before = stack.deps.verifier.queries;
    for (let i = 0; i < 25; i++) expect((await verify({ key: key.secret })).body.code).toBe('VALID');
    expect(stack.deps.verifier.queries).toBe(before);
    const lastUsed = async () =>
      (await stack.orm.em.fork().execute<{ last_used_at: Date | null }[]>(`select last_used_at from api_key where pk = ?`, [key.pk]))[0]!
        .last_used_at;
    expect(await lastUsed()).toBeNull();
    await stack.deps.verifier.touches.flush();
    expect(stack.deps.verifier.queries).toBe(before + 1);
    const at = await lastUsed();
    expect(at).not.toBeNull();
    expect(Math.abs(new Date(at!).getTime() - Date.now())).toBeLessThan(10_000);
  });

  it('misses no change while its listener reconnects', async () => {
    const key = await insertKey(stack, { permissions: ['products:write'] });
    expect((await verify({ key: key.secret })).body.code).toBe('VALID');
    const verifier = stack.deps.verifier;
    const sessions = verifier.listenerConnections;
    const rows = await stack.orm.em.fork().execute<{ n: number }[]>(
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where application_name = 'gatehouse-key-listener' and datname = current_database()`,
    );
    expect(rows[0]!.n).toBe(1);
    // Notified while nobody listens: the notification is lost, the change must not be.
    await changeKey(stack, key.pk, 'enabled = false');
    const deadline = Date.now() + 5000;
    while (verifier.listenerConnections === sessions && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(verifier.listenerConnections).toBe(sessions + 1);
    expect((await verify({ key: key.secret })).body.code).toBe('DISABLED');
    // Listening again, the cache stays honest as before.
    await changeKey(stack, key.pk, 'enabled = true');
    await eventually(async () => (await verify({ key: key.secret })).body.code, 'VALID');
  });

  it('catchUp() returns only once a change committed before it has reached the cache: the next answer is the new one, with no waiting', async () => {
    const key = await insertKey(stack, { permissions: [] });
    // A verifier of its own, so the stack's API traffic cannot refresh its cache by chance.
    const verifier = await new KeyVerifier({ databaseUrl: stack.databaseUrl, log: createLogger('silent') }).start();
    try {
      expect((await verifyKey({ secret: key.secret, workspaceId: 'default' }, { verifier })).code).toBe('VALID');
      for (let round = 0; round < 20; round++) {
        const enabled = round % 2 === 1;
        await changeKey(stack, key.pk, `enabled = ${enabled}`);
        await verifier.catchUp();
        expect((await verifyKey({ secret: key.secret, workspaceId: 'default' }, { verifier })).code).toBe(enabled ? 'VALID' : 'DISABLED');
      }
    } finally {
      await verifier.stop();
    }
  });

  it('keeps random garbage from growing memory', async () => {
    const verifier = await new KeyVerifier({
      databaseUrl: stack.databaseUrl,
      log: createLogger('silent'),
      cache: { maxNegative: 100 },
    }).start();
    try {
      const garbage = Array.from({ length: 300 }, () => generateSecret('gate', 'live'));
      const results = await Promise.all(garbage.map((secret) => verifyKey({ secret, workspaceId: 'default' }, { verifier })));
      expect(results.every((r) => r.code === 'NOT_FOUND')).toBe(true);
      expect(verifier.cache.size.missing).toBe(100);
      // A repeated unknown key is answered from memory for a short while.
      const queries = verifier.queries;
      expect((await verifyKey({ secret: garbage.at(-1)!, workspaceId: 'default' }, { verifier })).code).toBe('NOT_FOUND');
      expect(verifier.queries).toBe(queries);
    } finally {
      await verifier.stop();
    }
  });
});

/**
 * Polls until `read` answers `want`, or fails after 10 s: far inside the cache's 5-minute TTL, so
 * only the change notification can explain the new answer (a wall-clock bound would measure the machine).
 */
async function eventually(read: () => Promise<string>, want: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = '';
  while (Date.now() < deadline) {
    if ((last = await read()) === want) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`still ${last}, not ${want}, after 10 s`);
}
