import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KEY_CHANGED_CHANNEL } from '../../core/keys/notify.js';
import { hasValidChecksum, hashSecret } from '../../core/keys/secret.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => stack.orm.em.fork().execute<T[]>(q, p);

describe('POST /api-keys', () => {
  it('creates a key with the caller-chosen id and shows the secret once', async () => {
    const res = await stack.rest('POST', '/api-keys', { body: { id: 'api-key-produccion-2024', name: 'Producción' } });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).slice(0, 3)).toEqual(['id', 'api_key', 'created_at']);
    expect(res.body.id).toBe('api-key-produccion-2024');
    expect(res.body.api_key).toMatch(/^gate_sk_live_[0-9A-Za-z]{28}$/);
    expect(hasValidChecksum(res.body.api_key)).toBe(true);
    expect(new Date(res.body.created_at).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(res.body).toMatchObject({ name: 'Producción', environment: 'live', status: 'active', enabled: true });
    expect(res.body.start).toBe(`${res.body.api_key.slice(0, 17)}***`);

    // The new secret works as an x-api-key at once.
    const me = await stack.rest('GET', '/api-keys', { key: res.body.api_key });
    expect(me.status).toBe(200);
  });

  it('generates ak_ + 16 hex when no id is given (or null, as Python sends None)', async () => {
    const a = await stack.rest('POST', '/api-keys', { body: {} });
    const b = await stack.rest('POST', '/api-keys', { body: { id: null } });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(a.body.id).toMatch(/^ak_[0-9a-f]{16}$/);
    expect(b.body.id).toMatch(/^ak_[0-9a-f]{16}$/);
    expect(a.body.id).not.toBe(b.body.id);
  });

  it('answers 409 naming the id when it already exists, and changes nothing', async () => {
    await stack.rest('POST', '/api-keys', { body: { id: 'dup-key' } });
    const before = await sql(`select pk, start from api_key where id = 'dup-key'`);
    const res = await stack.rest('POST', '/api-keys', { body: { id: 'dup-key' } });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'conflict', field: 'id' });
    expect(res.body.error.message).toContain("'dup-key' already exists");
    expect(await sql(`select pk, start from api_key where id = 'dup-key'`)).toEqual(before);
  });

  it('accepts every setting the spec names and returns them', async () => {
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const res = await stack.rest('POST', '/api-keys', {
      body: {
        id: 'full-settings',
        name: 'CRM',
        environment: 'test',
        permissions: ['read-only', 'products:write'],
        rate_limits: [{ name: 'per-minute', limit: 100, window_seconds: 60 }, { limit: 5000, window_seconds: 86400 }],
        credits: { remaining: 1000, refill: { amount: 1000, interval: 'monthly' } },
        expires_at: expires,
        ip_allowlist: ['203.0.113.0/24', '2001:db8::/32', '198.51.100.7'],
        rotation_policy_days: 90,
        metadata: { team: 'crm' },
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.api_key).toMatch(/^gate_sk_test_/);
    expect(res.body).toMatchObject({
      environment: 'test',
      permissions: ['read-only', 'products:write'],
      rate_limits: [
        { name: 'per-minute', limit: 100, window_seconds: 60 },
        { name: '86400s', limit: 5000, window_seconds: 86400 },
      ],
      credits: { remaining: 1000, refill: { amount: 1000, interval: 'monthly' } },
      expires_at: expires,
      ip_allowlist: ['203.0.113.0/24', '2001:db8::/32', '198.51.100.7'],
      rotation_policy_days: 90,
      metadata: { team: 'crm' },
    });
    expect(res.body.scopes).toContain('keys:read');
    expect(res.body.scopes).toContain('products:write');
    expect(res.body.credits.refill.last_refill_at).not.toBeNull();
  });

  it('uses the workspace key prefix for secrets', async () => {
    const ws = await stack.caller();
    const created = await ws.workspaces.create({ id: 'trebol-prefix', name: 'Trebol', keyPrefix: 'treb' });
    expect(created.adminKey.secret).toMatch(/^treb_sk_live_/);
    const res = await stack.rest('POST', '/api-keys', { key: created.adminKey.secret, body: { id: 'x1' } });
    expect(res.body.api_key).toMatch(/^treb_sk_live_/);
  });
});

describe('GET /api-keys and GET /api-keys/{id}', () => {
  it('lists newest first with id and created_at, never a secret or hash', async () => {
    const created = await stack.rest('POST', '/api-keys', { body: { id: 'listed-key' } });
    const res = await stack.rest('GET', '/api-keys');
    expect(res.status).toBe(200);
    expect(res.body.api_keys[0].id).toBe('listed-key');
    for (const k of res.body.api_keys) {
      expect(k).toHaveProperty('id');
      expect(k).toHaveProperty('created_at');
      expect(k).not.toHaveProperty('api_key');
    }
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(created.body.api_key);
    expect(text).not.toContain(hashSecret(created.body.api_key));
    expect(text).not.toContain(stack.bootstrapKey);

    const one = await stack.rest('GET', '/api-keys/listed-key');
    expect(one.status).toBe(200);
    expect(one.body.id).toBe('listed-key');
    expect(one.body).not.toHaveProperty('api_key');
    expect(JSON.stringify(one.body)).not.toContain(created.body.api_key);
  });

  it('filters by environment, status, permission and search, and pages with a cursor', async () => {
    const caller = await stack.caller();
    await caller.keys.create({ id: 'filter-test-a', environment: 'test', permissions: ['products:write'] });
    await caller.keys.create({ id: 'filter-live-b', name: 'Webhook notifier', permissions: ['read-only'] });
    await caller.keys.create({ id: 'filter-live-c', permissions: ['write'] });
    await caller.keys.revoke({ id: 'filter-live-c' });

    const ids = async (q: string) => (await stack.rest('GET', `/api-keys?${q}`)).body.api_keys.map((k: { id: string }) => k.id);
    expect(await ids('environment=test&search=filter-')).toEqual(['filter-test-a']);
    expect(await ids('status=revoked&search=filter-')).toEqual(['filter-live-c']);
    // `current`: the list without its revoked keys (the UI shows those apart)
    expect(await ids('status=current&search=filter-')).toEqual(['filter-live-b', 'filter-test-a']);
    expect((await caller.keys.list({ status: 'current', search: 'filter-' })).keys.map((k) => k.id)).toEqual(['filter-live-b', 'filter-test-a']);
    expect(await ids('status=active&search=filter-')).toEqual(['filter-live-b', 'filter-test-a']);
    expect(await ids('permission=products:write&search=filter')).toEqual(['filter-test-a']);
    // keys:read is held through the read-only and write presets
    expect(await ids('permission=keys:read&search=filter')).toEqual(['filter-live-c', 'filter-live-b']);
    expect(await ids('search=NOTIFIER')).toEqual(['filter-live-b']);
    expect(await ids('search=%25')).toEqual([]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { api_keys: { id: string }[]; next_cursor: string | null } } = await stack.rest(
        'GET',
        `/api-keys?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.body.api_keys.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.api_keys.map((k) => k.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    const all = (await stack.rest('GET', '/api-keys?limit=500')).body.api_keys.map((k: { id: string }) => k.id);
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('answers 404 naming the id for an unknown key', async () => {
    const res = await stack.rest('GET', '/api-keys/nope-key');
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'not_found', message: "API key 'nope-key' was not found" });
  });
});

describe('PATCH /api-keys/{id}', () => {
  it('changes the given fields only and records from/to in the audit log', async () => {
    await stack.rest('POST', '/api-keys', { body: { id: 'patch-me', name: 'old', permissions: ['read-only'] } });
    const res = await stack.rest('PATCH', '/api-keys/patch-me', {
      body: { name: 'new', enabled: false, rate_limits: [{ name: 'm', limit: 10, window_seconds: 60 }], ip_allowlist: ['10.0.0.0/8'] },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'new', enabled: false, status: 'disabled', permissions: ['read-only'] });
    expect(res.body.rate_limits).toEqual([{ name: 'm', limit: 10, window_seconds: 60 }]);

    const audit = await stack.rest('GET', '/audit-log?key_id=patch-me&action=key.updated');
    expect(audit.body.entries).toHaveLength(1);
    expect(audit.body.entries[0]).toMatchObject({
      action: 'key.updated',
      target_id: 'patch-me',
      actor_key_id: 'bootstrap',
      changes: { name: { from: 'old', to: 'new' }, enabled: { from: true, to: false } },
    });
    expect(audit.body.entries[0].ip).toMatch(/127\.0\.0\.1/);
  });

  it('clears credits and expiry with null and refuses a past expiry', async () => {
    await stack.rest('POST', '/api-keys', {
      body: { id: 'patch-credits', credits: { remaining: 5 }, expires_at: new Date(Date.now() + 3_600_000).toISOString() },
    });
    const past = await stack.rest('PATCH', '/api-keys/patch-credits', { body: { expires_at: '2001-01-01T00:00:00Z' } });
    expect(past.status).toBe(400);
    expect(past.body.error.message).toBe('expires_at: must be in the future');
    const res = await stack.rest('PATCH', '/api-keys/patch-credits', { body: { credits: null, expires_at: null } });
    expect(res.body).toMatchObject({ credits: null, expires_at: null });
  });

  it('refuses an empty patch, an unknown field and an unknown key', async () => {
    await stack.rest('POST', '/api-keys', { body: { id: 'patch-errors' } });
    const empty = await stack.rest('PATCH', '/api-keys/patch-errors', { body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/at least one field/);
    const unknown = await stack.rest('PATCH', '/api-keys/patch-errors', { body: { nmae: 'x' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/nmae/);
    const env = await stack.rest('PATCH', '/api-keys/patch-errors', { body: { environment: 'test' } });
    expect(env.status).toBe(400);
    expect(env.body.error.message).toMatch(/environment/);
    expect((await stack.rest('PATCH', '/api-keys/no-such', { body: { name: 'x' } })).status).toBe(404);
  });
});

describe('revoke and delete', () => {
  it('revoke stops the key at once, keeps it listed as revoked, raises key.revoked', async () => {
    const created = await stack.rest('POST', '/api-keys', { body: { id: 'revoke-me' } });
    const secret = created.body.api_key;
    expect((await stack.rest('GET', '/api-keys', { key: secret })).status).toBe(200);
    const res = await stack.rest('POST', '/api-keys/revoke-me/revoke');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('revoked');
    expect(res.body.revoked_at).not.toBeNull();
    expect((await stack.rest('GET', '/api-keys', { key: secret })).status).toBe(401);
    // revoking twice changes nothing
    const again = await stack.rest('POST', '/api-keys/revoke-me/revoke');
    expect(again.body.revoked_at).toBe(res.body.revoked_at);
    const events = await sql<{ type: string; payload: Record<string, unknown> }>(
      `select type, payload from event where workspace_id = 'default' and payload->>'key_id' = 'revoke-me' order by created_at`,
    );
    expect(events.map((e) => e.type)).toEqual(['key.created', 'key.revoked']);
    expect(events[1]!.payload).toEqual({ key_id: 'revoke-me', actor_key_id: 'bootstrap', deleted: false });
    // a revoked key cannot be edited back to life
    const patch = await stack.rest('PATCH', '/api-keys/revoke-me', { body: { enabled: true } });
    expect(patch.status).toBe(409);
  });

  it('delete removes the key, its secret stops working, the audit log keeps it', async () => {
    const created = await stack.rest('POST', '/api-keys', { body: { id: 'delete-me' } });
    const res = await stack.rest('DELETE', '/api-keys/delete-me');
    expect(res.status).toBe(200);
    expect(res.body.message).toBe("API key 'delete-me' deleted");
    expect((await stack.rest('GET', '/api-keys/delete-me')).status).toBe(404);
    expect((await stack.rest('GET', '/api-keys', { key: created.body.api_key })).status).toBe(401);
    expect(await sql(`select 1 from api_key_secret where hash = ?`, [hashSecret(created.body.api_key)])).toEqual([]);
    const again = await stack.rest('DELETE', '/api-keys/delete-me');
    expect(again.status).toBe(404);
    expect(again.body.error.message).toBe("API key 'delete-me' was not found");
    const audit = await stack.rest('GET', '/audit-log?key_id=delete-me');
    expect(audit.body.entries.map((e: { action: string }) => e.action)).toEqual(['key.deleted', 'key.created']);
    // the id is free again
    expect((await stack.rest('POST', '/api-keys', { body: { id: 'delete-me' } })).status).toBe(201);
  });
});

describe('the secret is shown once', () => {
  it('never appears in clear in any table, in the audit log or in events', async () => {
    const created = await stack.rest('POST', '/api-keys', { body: { id: 'secret-check' } });
    const secret: string = created.body.api_key;
    await stack.rest('PATCH', '/api-keys/secret-check', { body: { name: 'renamed' } });
    const random = secret.slice(13, 35);
    for (const table of ['api_key', 'api_key_secret', 'audit_log', 'event', 'workspace']) {
      const dump = JSON.stringify(await sql(`select * from ${table}`));
      expect(dump, table).not.toContain(random);
    }
    const [row] = await sql<{ hash: string }>(`select s.hash from api_key_secret s join api_key k on k.pk = s.api_key_pk where k.id = 'secret-check'`);
    expect(row!.hash).toBe(hashSecret(secret));
    const audit = await stack.rest('GET', '/audit-log?key_id=secret-check');
    expect(JSON.stringify(audit.body)).not.toContain(random);
    expect(JSON.stringify((await stack.rest('GET', '/api-keys/secret-check')).body)).not.toContain(random);
  });
});

describe('tRPC keys.*', () => {
  it('covers the same lifecycle with typed results', async () => {
    const caller = await stack.caller();
    const created = await caller.keys.create({ id: 'trpc-key', rateLimits: [{ limit: 5, windowSeconds: 1 }] });
    expect(created.secret).toMatch(/^gate_sk_live_/);
    expect(created.rateLimits).toEqual([{ name: '1s', limit: 5, windowSeconds: 1 }]);
    const got = await caller.keys.get({ id: 'trpc-key' });
    expect(got).not.toHaveProperty('secret');
    const updated = await caller.keys.update({ id: 'trpc-key', patch: { metadata: { a: 1 } } });
    expect(updated.metadata).toEqual({ a: 1 });
    const listed = await caller.keys.list({ search: 'trpc-key' });
    expect(listed.keys.map((k) => k.id)).toEqual(['trpc-key']);
    await caller.keys.revoke({ id: 'trpc-key' });
    await caller.keys.delete({ id: 'trpc-key' });
    const trail = await caller.keys.auditTrail({ id: 'trpc-key' });
    expect(trail.entries.map((e) => e.action)).toEqual(['key.deleted', 'key.revoked', 'key.updated', 'key.created']);
    await expect(caller.keys.get({ id: 'trpc-key' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(caller.keys.create({ id: 'bootstrap' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});

describe('every key change reaches other API processes', () => {
  it('create, update, revoke and delete each notify gatehouse_key_changed once committed', async () => {
    const listener = new pg.Client({ connectionString: stack.databaseUrl });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query(`listen ${KEY_CHANGED_CHANNEL}`);
    try {
      await stack.rest('POST', '/api-keys', { body: { id: 'notify-me' } });
      const [{ pk }] = (await sql<{ pk: string }>(`select pk from api_key where id = 'notify-me'`)) as [{ pk: string }];
      await stack.rest('PATCH', '/api-keys/notify-me', { body: { enabled: false } });
      await stack.rest('POST', '/api-keys/notify-me/revoke');
      await stack.rest('DELETE', '/api-keys/notify-me');
      // A refused change notifies nobody.
      await stack.rest('DELETE', '/api-keys/notify-me');
      // Notifications arrive in commit order: once a marker sent after the refused change is heard,
      // anything that change had sent would have been heard before it.
      await sql(`select pg_notify(?, 'sync:after-the-refusal')`, [KEY_CHANGED_CHANNEL]);
      await vi.waitFor(() => expect(heard).toContain('sync:after-the-refusal'));
      expect(heard.filter((p) => p === pk)).toHaveLength(4);
    } finally {
      await listener.end();
    }
  });
});

describe('GET /audit-log', () => {
  it('filters by action and time and pages newest first', async () => {
    const start = new Date().toISOString();
    for (const id of ['audit-a', 'audit-b', 'audit-c']) await stack.rest('POST', '/api-keys', { body: { id } });
    await stack.rest('POST', '/api-keys/audit-b/revoke');
    const created = await stack.rest('GET', `/audit-log?action=key.created&since=${encodeURIComponent(start)}`);
    expect(created.body.entries.map((e: { target_id: string }) => e.target_id)).toEqual(['audit-c', 'audit-b', 'audit-a']);
    const revoked = await stack.rest('GET', `/audit-log?action=key.revoked&since=${encodeURIComponent(start)}`);
    expect(revoked.body.entries).toHaveLength(1);
    expect(revoked.body.entries[0]).toMatchObject({ target_type: 'api_key', target_id: 'audit-b', actor_key_id: 'bootstrap' });
    const before = await stack.rest('GET', `/audit-log?until=${encodeURIComponent(start)}&limit=500`);
    expect(before.body.entries.map((e: { target_id: string }) => e.target_id)).not.toContain('audit-a');

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { entries: { id: string }[]; next_cursor: string | null } } = await stack.rest(
        'GET',
        `/audit-log?since=${encodeURIComponent(start)}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.body.entries.map((e) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
  });
});

describe('/openapi.json', () => {
  it('describes the key, workspace and audit routes from their schemas, with examples', async () => {
    const doc = (await stack.rest('GET', '/openapi.json', { key: null })).body;
    for (const [path, method] of [
      ['/api-keys', 'get'],
      ['/api-keys', 'post'],
      ['/api-keys/{id}', 'get'],
      ['/api-keys/{id}', 'patch'],
      ['/api-keys/{id}', 'delete'],
      ['/api-keys/{id}/revoke', 'post'],
      ['/audit-log', 'get'],
      ['/workspaces', 'get'],
      ['/workspaces', 'post'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
      expect(doc.paths[path][method].summary, `${method} ${path}`).toMatch(/\w/);
    }
    const post = doc.paths['/api-keys'].post;
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409', '500']));
    expect(Object.keys(doc.paths['/api-keys/{id}'].delete.responses)).toContain('404');
    const body = doc.components.schemas.CreateApiKey;
    expect(body.example).toEqual({ id: 'mi-api-key-1' });
    expect(body.properties.id.description).toMatch(/unique in the workspace/);
    expect(body.additionalProperties).toBe(false);
    expect(doc.components.schemas.CreatedApiKey.properties.api_key.description).toMatch(/Shown in this response only/);
  });
});
