import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashSecret } from '../../core/keys/secret.js';
import { open } from '../../core/webhooks/secret-box.js';
import { migrationsList } from '../../db/migrations/index.js';
import { createOrm, migrate } from '../../db/orm.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/postgres.js';
import { schemaDrift } from '../../db/schema-drift.js';
import { startStack, type Stack } from '../harness.js';

// A database as release 1927169 left it, every table filled by that release's own API and worker
// (made by fixtures/make-release-dump.ts; its header says how). Upgrading must keep all of it.
const fixture = JSON.parse(readFileSync(new URL('./fixtures/release-1927169.json', import.meta.url), 'utf8')) as {
  workspace: string;
  secrets: Record<'admin' | 'steady' | 'rotatingCurrent' | 'rotatingRetired' | 'revoked', string>;
  webhookSecrets: Record<string, string>;
  rows: Record<string, number>;
};
const dump = readFileSync(new URL('./fixtures/release-1927169.sql', import.meta.url), 'utf8');

let url: string;
let stack: Stack | undefined;

async function query<T>(sql: string, params?: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Every row of every table, as JSON text in a fixed order: equal means nothing was lost or altered. */
async function contents(): Promise<Record<string, string>> {
  const tables = await query<{ name: string }>(`select tablename as name from pg_tables where schemaname = 'public' order by 1`);
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await query<{ rows: string }>(`select coalesce(json_agg(t order by t::text), '[]')::text as rows from "${name}" t`);
    out[name] = row!.rows;
  }
  return out;
}

/** Columns later migrations add to existing rows, with the value every existing row gets; nothing else may change. */
const ADDED_COLUMNS: Record<string, Record<string, unknown>> = {
  event_type: { schema: null },
  workspace: { plan_id: null, overrides: {}, oauth_token_ttl_seconds: 900, oauth_audiences: [] },
  // PortalBrandingOAuth gives every key made before OAuth a client id of the format new keys get.
  api_key: { client_id: expect.stringMatching(/^ci_[0-9a-f]{32}$/) },
  webhook_endpoint: { all_workspaces: false },
  limit_request: { kind: 'key_limit', requested_plan: null, approved_limit: null, approved_plan: null, expires_at: null },
  audit_log: { actor_email: null },
  ui_session: { portal_link_token_hash: null },
};

/** Bucket widths of the rollups, ms. */
const ROLLUP_MS: Record<string, number> = { usage_minute: 60_000, usage_hour: 3_600_000, usage_day: 86_400_000 };
type UsageRecordRow = { workspace_id: string; key_id: string | null; source: string; method: string; route: string; code: string | null; counted: boolean; created_at: string };

/**
 * What UsageSources makes of the usage tables: `api` records (management calls) kept but no longer
 * counted, the rollup rows they made gone (the fixture's management routes are never also a
 * service's route, so whole rows go), and each remaining rollup row's `refused` the counted
 * records of its bucket whose code is not VALID.
 */
function usageSourcesExpectation(table: string, beforeRows: Record<string, unknown>[], records: UsageRecordRow[]) {
  if (table === 'usage_record') {
    expect(records.some((r) => r.source === 'api' && r.counted)).toBe(true);
    return { rows: beforeRows.map((r) => (r.source === 'api' ? { ...r, counted: false } : r)), refused: () => 0 };
  }
  const group = (ws: unknown, key: unknown, route: unknown) => `${String(ws)}/${String(key)}/${String(route)}`;
  const managed = new Set(records.filter((r) => r.source === 'api' && r.counted).map((r) => group(r.workspace_id, r.key_id ?? '', `${r.method} ${r.route}`)));
  const width = ROLLUP_MS[table]!;
  const bucketOf = (t: unknown) => Math.floor(new Date(String(t)).getTime() / width) * width;
  const rows = beforeRows.filter((row) => !managed.has(group(row.workspace_id, row.key_id, row.route)));
  expect(rows.length).toBeLessThan(beforeRows.length);
  const refused = (row: Record<string, unknown>) =>
    records.filter(
      (r) =>
        r.counted &&
        r.source !== 'api' &&
        r.code !== null &&
        r.code !== 'VALID' &&
        group(r.workspace_id, r.key_id ?? '', `${r.method} ${r.route}`) === group(row.workspace_id, row.key_id, row.route) &&
        bucketOf(r.created_at) === bucketOf(row.bucket),
    ).length;
  return { rows, refused };
}

beforeAll(async () => {
  url = withDatabase(inject('databaseUrl'), `gh_test_${randomBytes(5).toString('hex')}`);
  await ensureDatabase(url);
  await query(dump);
});
afterAll(async () => {
  await stack?.close();
  await dropDatabase(url);
});

describe('an install of release 1927169 upgrades in place', () => {
  it('the dump holds rows in every table of that release', async () => {
    const counts = await query<{ name: string; n: number }>(
      Object.keys(fixture.rows)
        .map((t) => `select '${t}' as name, count(*)::int as n from "${t}"`)
        .join(' union all '),
    );
    expect(Object.fromEntries(counts.map((c) => [c.name, c.n]))).toEqual(fixture.rows);
    expect(Object.values(fixture.rows).every((n) => n > 0)).toBe(true);
  });

  it('migrating applies only the newer migrations, keeps every row as it was, and leaves no drift from the entities', async () => {
    const before = await contents();
    const done = (await query<{ name: string }>(`select name from mikro_orm_migrations`)).map((r) => r.name);
    const orm = await createOrm(url);
    try {
      expect(await migrate(orm)).toEqual(migrationsList.map((m) => m.name).filter((n) => !done.includes(n)));
      const after = await contents();
      for (const [table, rows] of Object.entries(before)) {
        if (table === 'mikro_orm_migrations') continue;
        let afterRows = JSON.parse(after[table]!) as Record<string, unknown>[];
        if (table === 'audit_log') {
          // PlansAndQuotas takes limits:approve from every workspace key that held it (by name or through
          // the admin preset) and says so in the audit log: one entry per such key, nothing else.
          const migrated = afterRows.filter((r) => r.action === 'key.permissions_migrated');
          const holders = (JSON.parse(before.api_key!) as { id: string; workspace_id: string; permissions: string[]; revoked_at: string | null }[])
            .filter((k) => !k.revoked_at && !k.permissions.includes('operator') && (k.permissions.includes('admin') || k.permissions.includes('limits:approve')))
            .map((k) => `${k.workspace_id}/${k.id}`)
            .sort();
          expect(holders.length).toBeGreaterThan(0);
          expect(migrated.map((r) => `${String(r.workspace_id)}/${String(r.target_id)}`).sort()).toEqual(holders);
          for (const r of migrated) expect(r.changes).toMatchObject({ removed: ['limits:approve'] });
          afterRows = afterRows.filter((r) => r.action !== 'key.permissions_migrated');
        }
        if (table === 'usage_record' || table in ROLLUP_MS) {
          // UsageSources takes management calls out of the figures and counts refusals in the rollups.
          const expected = usageSourcesExpectation(table, JSON.parse(rows) as Record<string, unknown>[], JSON.parse(before.usage_record!) as UsageRecordRow[]);
          afterRows = afterRows.map((row) => {
            if (!(table in ROLLUP_MS)) return row;
            const { refused, ...kept } = row;
            expect({ table, row: kept, refused: Number(refused) }).toEqual({ table, row: kept, refused: expected.refused(kept) });
            return kept;
          });
          expect({ table, rows: afterRows }).toEqual({ table, rows: expected.rows });
          continue;
        }
        const added = ADDED_COLUMNS[table] ?? {};
        afterRows = afterRows.map((row) => {
          const kept = { ...row };
          for (const [column, value] of Object.entries(added)) {
            expect({ table, column, value: kept[column] }).toEqual({ table, column, value });
            delete kept[column];
          }
          return kept;
        });
        expect({ table, rows: afterRows }).toEqual({ table, rows: JSON.parse(rows) as unknown });
      }
      expect(await schemaDrift(orm)).toBe('');
    } finally {
      await orm.close();
    }
  });

  it('keys made before the upgrade verify as they did, and webhook secrets still open', async () => {
    stack = await startStack({ databaseUrl: url, worker: false });
    const { admin, steady, rotatingCurrent, rotatingRetired, revoked } = fixture.secrets;
    const verify = async (key: string, permission: string) =>
      (await stack!.rest('POST', '/v1/keys/verify', { key: admin, body: { key, permission } })).body as { valid: boolean; code: string; key_id: string | null };

    expect(await verify(steady, 'products:write')).toMatchObject({ valid: true, code: 'VALID', key_id: 'steady' });
    expect(await verify(rotatingCurrent, 'products:read')).toMatchObject({ valid: true, code: 'VALID', key_id: 'rotating' });
    // The secret the rotation retired works until its grace ends, then is refused as expired: known either way.
    const [retired] = await query<{ expires_at: Date }>(`select expires_at from api_key_secret where hash = $1`, [hashSecret(rotatingRetired)]);
    const retiredCode = retired!.expires_at.getTime() > Date.now() ? 'VALID' : 'EXPIRED';
    expect(await verify(rotatingRetired, 'products:read')).toMatchObject({ code: retiredCode, key_id: 'rotating' });
    expect(await verify(revoked, 'products:read')).toMatchObject({ valid: false, code: 'NOT_FOUND' });

    const listed = await stack.rest('GET', '/api-keys', { key: admin });
    expect(listed.status).toBe(200);
    expect((listed.body.api_keys as { id: string }[]).map((k) => k.id).sort()).toEqual(['admin', 'revoked', 'rotating', 'steady']);

    const endpoints = await query<{ id: string; secret_ciphertext: string }>(`select id, secret_ciphertext from webhook_endpoint order by id`);
    const em = stack.orm.em.fork();
    for (const e of endpoints) expect(await open({ em }, e.secret_ciphertext, e.id)).toBe(fixture.webhookSecrets[e.id]);
  });
});
