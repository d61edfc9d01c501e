import type { EntityManager } from '@mikro-orm/postgresql';

// Raw SQL, and only DDL and the moves it needs: usage_record is partitioned by UTC day
// (db/entities/usage.ts, PARTITIONED_TABLES) and MikroORM has no partition DDL. Partition names are
// built from dates here, never from input. docs/usage.md, "Storage"; docs/architecture.md lists this file.

const DAY = 86_400_000;
export const DEFAULT_PARTITION = 'usage_record_default';
const PARTITION = /^usage_record_p(\d{4})(\d{2})(\d{2})$/;
/** Days made ahead of today, so a day's first record never waits for its partition. */
export const PARTITION_DAYS_AHEAD = 7;

/** Midnight UTC of the day holding `at`. */
export function utcDay(at: Date | number): Date {
  const t = typeof at === 'number' ? at : at.getTime();
  return new Date(Math.floor(t / DAY) * DAY);
}

/** `usage_record_p20261201`: the partition holding that UTC day's records. */
export function partitionName(day: Date): string {
  return `usage_record_p${day.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function dayOfPartition(name: string): Date | undefined {
  const m = PARTITION.exec(name);
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`) : undefined;
}

/** The day partitions that exist, oldest first, with the day each holds. */
export async function usagePartitions(em: EntityManager): Promise<{ name: string; day: Date }[]> {
  // raw SQL: catalog read of usage_record's partitions.
  const rows = await em.execute<{ name: string }[]>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'usage_record'::regclass`,
  );
  return rows
    .flatMap((r) => {
      const day = dayOfPartition(r.name);
      return day ? [{ name: r.name, day }] : [];
    })
    .sort((a, b) => a.day.getTime() - b.day.getTime());
}

/**
 * Makes the partition of `day` unless it exists; returns whether it made it and how many records it
 * took over from the DEFAULT partition (PostgreSQL refuses a partition whose rows sit in DEFAULT, so
 * those are moved in the same transaction). Two processes at once: an advisory lock per table makes
 * the second find the partition made.
 */
export async function ensureDayPartition(em: EntityManager, day: Date): Promise<{ created: boolean; moved: number }> {
  const start = utcDay(day);
  const name = partitionName(start);
  const from = start.toISOString();
  const to = new Date(start.getTime() + DAY).toISOString();
  return em.transactional(async (tx) => {
    // raw SQL: partition DDL and the move out of DEFAULT, under one lock for the table's partitions.
    await tx.execute(`select pg_advisory_xact_lock(hashtext('gatehouse usage_record partitions'))`);
    const [found] = await tx.execute<{ oid: string | null }[]>(`select to_regclass(?) as oid`, [name]);
    if (found?.oid) return { created: false, moved: 0 };
    await tx.execute(`create temp table usage_record_moving (like usage_record) on commit drop`);
    const moved = await tx.execute<{ n: string }[]>(
      `with m as (delete from ${DEFAULT_PARTITION} where created_at >= ? and created_at < ? returning *),
            i as (insert into usage_record_moving select * from m returning 1)
       select count(*) as n from i`,
      [from, to],
    );
    await tx.execute(`create table "${name}" partition of usage_record for values from ('${from}') to ('${to}')`);
    await tx.execute(`insert into usage_record select * from usage_record_moving`);
    return { created: true, moved: Number(moved[0]?.n ?? 0) };
  });
}

export interface PartitionUpkeep {
  /** Partitions made. */
  created: string[];
  /** Records moved out of DEFAULT into their day's partition. */
  moved: number;
  /** Partitions dropped (their whole day was older than the retention cutoff). */
  dropped: string[];
  /** Records older than the cutoff deleted from DEFAULT. */
  deleted: number;
}

/**
 * Yesterday through `PARTITION_DAYS_AHEAD` days ahead, plus the day of any record that waits in DEFAULT
 * (not older than `cutoff`): run on API start and by the daily `usage-partitions` Schedule.
 * Idempotent, and safe from several processes at once.
 */
export async function ensureUsagePartitions(em: EntityManager, opts: { now?: Date; cutoff?: Date } = {}): Promise<Pick<PartitionUpkeep, 'created' | 'moved'>> {
  const today = utcDay(opts.now ?? new Date()).getTime();
  const days = new Set<number>();
  for (let d = -1; d <= PARTITION_DAYS_AHEAD; d++) days.add(today + d * DAY);
  // raw SQL: the days of the records DEFAULT caught (a reported record for a day no partition covered).
  const waiting = await em.execute<{ day: string }[]>(`select distinct to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day from ${DEFAULT_PARTITION}`);
  for (const w of waiting) {
    const t = Date.parse(`${w.day}T00:00:00Z`);
    if (!opts.cutoff || t >= utcDay(opts.cutoff).getTime()) days.add(t);
  }
  const existing = new Set((await usagePartitions(em)).map((p) => p.name));
  const created: string[] = [];
  let moved = 0;
  for (const t of [...days].sort((a, b) => a - b)) {
    const day = new Date(t);
    // A day with a partition has no records in DEFAULT: PostgreSQL routes them to the partition.
    if (existing.has(partitionName(day))) continue;
    const r = await ensureDayPartition(em, day);
    if (r.created) created.push(partitionName(day));
    moved += r.moved;
  }
  return { created, moved };
}

/**
 * Retention (GATEHOUSE_USAGE_RETENTION_DAYS): drops each day partition whose whole day is older than
 * `cutoff` (the day holding the cutoff stays until the next run) and deletes DEFAULT's records older
 * than it. Nothing newer is touched.
 */
export async function dropUsagePartitions(em: EntityManager, cutoff: Date): Promise<Pick<PartitionUpkeep, 'dropped' | 'deleted'>> {
  const dropped: string[] = [];
  for (const p of await usagePartitions(em)) {
    if (p.day.getTime() + DAY > cutoff.getTime()) break;
    // raw SQL: dropping a day is the retention; DROP takes a brief exclusive lock on usage_record.
    await em.execute(`drop table if exists "${p.name}"`);
    dropped.push(p.name);
  }
  // raw SQL: DEFAULT holds few records (those no partition covered); they are deleted by row.
  const deleted = await em.execute<{ n: string }[]>(`with d as (delete from ${DEFAULT_PARTITION} where created_at < ? returning 1) select count(*) as n from d`, [cutoff]);
  return { dropped, deleted: Number(deleted[0]?.n ?? 0) };
}

/** The daily upkeep: drops what retention ends, then makes the days ahead and moves DEFAULT's records. */
export async function maintainUsagePartitions(em: EntityManager, opts: { now: Date; cutoff: Date }): Promise<PartitionUpkeep> {
  const { dropped, deleted } = await dropUsagePartitions(em, opts.cutoff);
  const { created, moved } = await ensureUsagePartitions(em, opts);
  return { created, moved, dropped, deleted };
}
