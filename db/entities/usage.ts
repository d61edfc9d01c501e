import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// Usage tables are written and read with SQL (batch COPY, upserts, aggregates); these entities
// exist so the migration generator knows the tables and never proposes to drop them.

/**
 * One request: a call to Gatehouse's API, a verification, or a call a protected service reported.
 *
 * The table is partitioned by UTC day (`PARTITIONED_TABLES`): retention drops a day's partition
 * instead of deleting its rows, and core/usage/partitions.ts creates the days ahead. MikroORM's
 * `partitionBy` would list every child partition in the entity and call each day created at run
 * time drift, so the partitioning is declared below and db/schema-drift.ts compares it with the
 * database.
 *
 * Every verification writes a row, and PostgreSQL's cost a row is mostly its btrees' upkeep. So the
 * primary key is the request log's own order, (workspace_id, created_at, id), read backwards for a
 * page (newest first, the keyset's tie-break on id), instead of an index in that order beside a key
 * on (id, created_at): 0.86× the insert time (BENCHMARKS.md, "One btree less a usage record").
 * A partitioned table's unique keys must hold its partition key (created_at); ids stay unique (one
 * sequence). A live tail reads a range of it too: its workspace's last seconds (core/usage/log-tail.ts).
 *
 * Its indexes are only those two btrees: every read names a workspace, and a day's partition is the
 * unit a time range prunes to, so a BRIN on created_at served no query and cost every row ~0.55 µs of
 * PostgreSQL's ~5.3 (BENCHMARKS.md, "usage_record without its BRIN"). The key index keeps
 * workspace_id first: a filter on another workspace's key id finds nothing at once instead of
 * reading that key's rows to drop them.
 */
export const UsageRecord = defineEntity({
  name: 'UsageRecord',
  tableName: 'usage_record',
  indexes: [
    { name: 'usage_record_workspace_key_created_index', columns: [{ name: 'workspaceId' }, { name: 'keyId' }, { name: 'createdAt', sort: 'desc' }] },
  ],
  properties: {
    // In the primary key's order: workspace, time, id.
    workspaceId: p.string().length(64).primary(),
    createdAt: p.datetime().primary(),
    id: p.bigint('string').primary().autoincrement(),
    keyId: p.string().length(128).nullable(),
    /**
     * `verification`, `service` (reported through POST /v1/usage): the provider's API traffic, which the
     * figures count; `api` (Gatehouse's management API called with a key) and `ui` (the web UI's
     * session): kept for the request log, never counted (docs/usage.md, "What is recorded").
     */
    source: p.string().length(16),
    method: p.string().length(10),
    route: p.string().length(200),
    status: p.smallint(),
    latencyMs: p.float().columnType('real'),
    code: p.string().length(32).nullable(),
    /** False for records whose call is counted by another record (see docs/usage.md). */
    counted: p.boolean().default(true),
  },
});
export type IUsageRecord = InferEntity<typeof UsageRecord>;

/**
 * Tables created `PARTITION BY` their migration, with the partition key as PostgreSQL spells it
 * (`pg_get_partkeydef`): a fact the entities cannot carry without naming every partition.
 */
export const PARTITIONED_TABLES: Readonly<Record<string, string>> = { usage_record: 'RANGE (created_at)' };

const rollupProperties = (big: boolean) => ({
  workspaceId: p.string().length(64).primary(),
  bucket: p.datetime().primary(),
  /** '' when the call had no key (a verification of an unknown secret). */
  keyId: p.string().length(128).primary(),
  /** `GET /api-keys/{id}`: method and route pattern. */
  route: p.string().length(220).primary(),
  calls: big ? p.bigint('number') : p.integer(),
  errors4xx: (big ? p.bigint('number') : p.integer()).fieldName('errors_4xx'),
  errors5xx: (big ? p.bigint('number') : p.integer()).fieldName('errors_5xx'),
  /** Calls a verification refused (a code other than VALID): RATE_LIMITED, USAGE_EXCEEDED, … */
  refused: (big ? p.bigint('number') : p.integer()).default(0),
  latencySum: p.double(),
  latencyMax: p.float().columnType('real'),
  /** Counts per fixed latency bucket (core/usage/histogram.ts). */
  hist: p.array<number>(Number).columnType(big ? 'bigint[]' : 'int[]'),
});

export const UsageMinute = defineEntity({ name: 'UsageMinute', tableName: 'usage_minute', properties: rollupProperties(false) });
export const UsageDay = defineEntity({
  name: 'UsageDay',
  tableName: 'usage_day',
  // Reads across every workspace (the provider's charts, closing a month) take a range of days: kept
  // for good, the table would otherwise be read whole for one month.
  indexes: [{ name: 'usage_day_bucket_index', properties: ['bucket'] }],
  properties: rollupProperties(true),
});
/** Kept beside the minute and day rollups so ragged ends of a range read hours, not minutes. */
export const UsageHour = defineEntity({ name: 'UsageHour', tableName: 'usage_hour', properties: rollupProperties(true) });

/**
 * A workspace's day, every key and route together: written by the batch writer beside usage_day, in
 * the same transaction. A workspace's summary reads its whole days here (one row a day, not one per
 * key and route), and the provider's charts a month of every workspace.
 */
export const UsageDayTotal = defineEntity({
  name: 'UsageDayTotal',
  tableName: 'usage_day_total',
  properties: {
    // Day first: the provider's charts read a range of days across every workspace.
    bucket: p.datetime().primary(),
    workspaceId: p.string().length(64).primary(),
    calls: p.bigint('number'),
    errors4xx: p.bigint('number').fieldName('errors_4xx'),
    errors5xx: p.bigint('number').fieldName('errors_5xx'),
    latencySum: p.double(),
    latencyMax: p.float().columnType('real'),
    /** Counts per fixed latency bucket (core/usage/histogram.ts). */
    hist: p.array<number>(Number).columnType('bigint[]'),
  },
});

/** Written by the monthly-rollup workflow; key_id '*' holds the workspace's total. */
export const UsageMonth = defineEntity({
  name: 'UsageMonth',
  tableName: 'usage_month',
  properties: {
    workspaceId: p.string().length(64).primary(),
    month: p.date().primary(),
    keyId: p.string().length(128).primary(),
    calls: p.bigint('number'),
    errors4xx: p.bigint('number').fieldName('errors_4xx'),
    errors5xx: p.bigint('number').fieldName('errors_5xx'),
    avgLatencyMs: p.double(),
    p95LatencyMs: p.double().fieldName('p95_latency_ms'),
    updatedAt: p.datetime(),
  },
});

/**
 * Provider-wide totals per month, written by the monthly-rollup workflow beside usage_month:
 * one row per plan (plan_id '' for workspaces without a plan) and one overall (plan_id '*').
 */
export const UsageMonthPlan = defineEntity({
  name: 'UsageMonthPlan',
  tableName: 'usage_month_plan',
  properties: {
    month: p.date().primary(),
    planId: p.string().length(64).primary(),
    workspaces: p.integer(),
    calls: p.bigint('number'),
    errors4xx: p.bigint('number').fieldName('errors_4xx'),
    errors5xx: p.bigint('number').fieldName('errors_5xx'),
    updatedAt: p.datetime(),
  },
});
