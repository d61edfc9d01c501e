import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { searchLogs } from '../../core/usage/logs.js';
import { dropUsagePartitions, ensureDayPartition, ensureUsagePartitions, partitionName, usagePartitions, utcDay } from '../../core/usage/partitions.js';
import { UsageRecorder } from '../../core/usage/recorder.js';
import { typedDb } from '../../db/kysely.js';
import { createOrm, migrate, type Orm } from '../../db/orm.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/postgres.js';
import { schemaDrift } from '../../db/schema-drift.js';

// usage_record is partitioned by UTC day (docs/usage.md, "Storage"). Each test works in days of its
// own, years apart from the others and from today's partitions the migration made.
const DAY = 86_400_000;
const WS = 'ws-partitions';

let url: string;
let orm: Orm;
beforeAll(async () => {
  url = withDatabase(inject('databaseUrl'), `gh_test_${randomBytes(5).toString('hex')}`);
  await ensureDatabase(url);
  orm = await createOrm(url);
  await migrate(orm);
  await typedDb(orm.em.fork()).insertInto('workspace').values({ id: WS, name: 'Partitions', key_prefix: 'prt', created_at: new Date() }).execute();
});
afterAll(async () => {
  await orm?.close();
  if (url) await dropDatabase(url);
});

const sql = <T extends object>(statement: string, params: unknown[] = []) => orm.em.fork().execute<T[]>(statement, params);
const names = async () => (await usagePartitions(orm.em.fork())).map((p) => p.name);
const days = (from: string, n: number) => Array.from({ length: n }, (_, i) => partitionName(new Date(Date.parse(from) + i * DAY)));

async function insert(at: string, n = 1): Promise<void> {
  await sql(
    `insert into usage_record (workspace_id, key_id, source, method, route, status, latency_ms, counted, created_at)
     select ?, 'k', 'service', 'GET', '/r', 200, 1, true, ? from generate_series(1, ?)`,
    [WS, at, n],
  );
}

/** Where each record of the range is stored: partition name → count. */
async function placement(from: string, to: string): Promise<Record<string, number>> {
  const rows = await sql<{ part: string; n: string }>(
    `select tableoid::regclass::text as part, count(*) as n from usage_record where created_at >= ? and created_at < ? group by 1`,
    [from, to],
  );
  return Object.fromEntries(rows.map((r) => [r.part, Number(r.n)]));
}

describe('usage_record partitions by day', () => {
  it('the migration made yesterday through a week ahead, and a DEFAULT partition', async () => {
    const today = utcDay(new Date()).getTime();
    const made = await names();
    for (let d = -1; d <= 7; d++) expect(made).toContain(partitionName(new Date(today + d * DAY)));
    expect(await sql(`select relname from pg_class where relname = 'usage_record_default' and relispartition`)).toHaveLength(1);
  });

  it('maintenance makes yesterday through seven days ahead; two at once and a second run make nothing twice', async () => {
    const now = new Date('2030-01-10T15:00:00Z');
    const [a, b] = await Promise.all([ensureUsagePartitions(orm.em.fork(), { now }), ensureUsagePartitions(orm.em.fork(), { now })]);
    const expected = days('2030-01-09T00:00:00Z', 9);
    expect([...a.created, ...b.created].sort()).toEqual(expected);
    expect((await names()).filter((n) => n.startsWith('usage_record_p2030'))).toEqual(expected);
    expect(await ensureUsagePartitions(orm.em.fork(), { now })).toEqual({ created: [], moved: 0 });
  });

  it('a record for a day with no partition lands in DEFAULT, is not lost, and moves into its day once the day is made', async () => {
    const log = createLogger('silent');
    const rec = new UsageRecorder({ databaseUrl: url, log, flushIntervalMs: 60_000 });
    try {
      rec.record({ workspaceId: WS, keyId: 'k', source: 'service', method: 'GET', route: '/r', status: 200, latencyMs: 3, at: new Date('2031-03-05T10:00:00Z') });
      rec.record({ workspaceId: WS, keyId: 'k', source: 'service', method: 'GET', route: '/r', status: 200, latencyMs: 3, at: new Date('2031-06-01T10:00:00Z') });
      await rec.flush();
      expect(rec.stats).toMatchObject({ written: 2, failedBatches: 0 });
    } finally {
      await rec.close();
    }
    expect(await placement('2031-01-01', '2032-01-01')).toEqual({ usage_record_default: 2 });
    const ids = await sql<{ id: string }>(`select id from usage_record where created_at >= '2031-01-01' and created_at < '2032-01-01' order by id`);

    // Made ahead of 2031-03-04: the 5th is among the days; June 1st is made because DEFAULT holds a record of it.
    const r = await ensureUsagePartitions(orm.em.fork(), { now: new Date('2031-03-04T12:00:00Z') });
    expect(r.moved).toBe(2);
    expect(r.created).toEqual([...days('2031-03-03T00:00:00Z', 9), 'usage_record_p20310601']);
    expect(await placement('2031-01-01', '2032-01-01')).toEqual({ usage_record_p20310305: 1, usage_record_p20310601: 1 });
    expect(await sql(`select id from usage_record where created_at >= '2031-01-01' and created_at < '2032-01-01' order by id`)).toEqual(ids);
  });

  it('the request log pages across a day boundary newest first, every record once', async () => {
    const midnight = utcDay(new Date()).getTime();
    // Both sides of today's midnight, three records sharing one timestamp on each side.
    for (const at of [midnight - 1_000, midnight - 100, midnight + 100, midnight + 1_000]) await insert(new Date(at).toISOString(), 3);
    const all = await sql<{ id: string; part: string }>(
      `select id, tableoid::regclass::text as part from usage_record where workspace_id = ? and created_at >= ? and created_at < ? order by created_at desc, id desc`,
      [WS, new Date(midnight - DAY), new Date(midnight + DAY)],
    );
    expect(new Set(all.map((r) => r.part))).toEqual(new Set([partitionName(new Date(midnight - DAY)), partitionName(new Date(midnight))]));

    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await searchLogs(orm.em.fork(), WS, { kind: 'all', from: new Date(midnight - DAY), to: new Date(midnight + DAY), limit: 5, cursor });
      seen.push(...page.entries.map((e) => e.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(all.map((r) => r.id));
  });

  it('retention drops the partitions wholly older than the cutoff, deletes DEFAULT records past it, and touches nothing newer', async () => {
    for (let d = 0; d < 5; d++) await ensureDayPartition(orm.em.fork(), new Date(Date.parse('2032-01-01T00:00:00Z') + d * DAY));
    for (let d = 1; d <= 5; d++) await insert(`2032-01-0${d}T12:00:00Z`, 10);
    // DEFAULT: one record past the cutoff, one after it (days no partition covers).
    await insert('2031-12-20T12:00:00Z');
    await insert('2032-02-20T12:00:00Z');
    const before = await usagePartitions(orm.em.fork());
    // The cutoff falls inside Jan 3rd: that day stays whole until the next run.
    const cutoff = new Date('2032-01-03T06:00:00Z');
    const r = await dropUsagePartitions(orm.em.fork(), cutoff);

    expect(r.dropped).toEqual(before.filter((p) => p.day.getTime() + DAY <= cutoff.getTime()).map((p) => p.name));
    expect(r.dropped).toEqual(expect.arrayContaining(['usage_record_p20320101', 'usage_record_p20320102']));
    expect(r.dropped).not.toContain('usage_record_p20320103');
    expect(r.deleted).toBe(1);
    expect(await names()).toEqual(before.filter((p) => !r.dropped.includes(p.name)).map((p) => p.name));
    expect(await placement('2031-12-01', '2032-03-01')).toEqual({
      usage_record_p20320103: 10,
      usage_record_p20320104: 10,
      usage_record_p20320105: 10,
      usage_record_default: 1,
    });
    expect(await dropUsagePartitions(orm.em.fork(), cutoff)).toEqual({ dropped: [], deleted: 0 });
  });

  it('a usage_record that is not partitioned is drift', async () => {
    expect(await schemaDrift(orm)).toBe('');
    await sql(`alter table usage_record rename to usage_record_kept`);
    await sql(`create table usage_record (like usage_record_kept including defaults)`);
    try {
      expect(await schemaDrift(orm)).toContain('-- "usage_record" must be partitioned by range (created_at)');
    } finally {
      await sql(`drop table usage_record`);
      await sql(`alter table usage_record_kept rename to usage_record`);
    }
    expect(await schemaDrift(orm)).toBe('');
  });
});
