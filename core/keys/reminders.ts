import type { EntityManager } from '@mikro-orm/postgresql';
import type { TemporalHandle } from '../../temporal/client.js';
import { raiseEvent } from '../events.js';
import type { Logger } from '../log.js';

export interface ReminderCounts {
  /** Events newly raised by this run; reminders raised by an earlier run are not counted again. */
  rotationDue: number;
  expiring: number;
}

interface DueRow {
  pk: string;
  id: string;
  workspace_id: string;
  at: Date;
  rotation_policy_days: number | null;
  last_rotated_at: Date | null;
}

const PAGE = 500;

/**
 * Raises `key.rotation_due` for keys whose rotation policy falls due within `withinDays` (or is
 * overdue) and `key.expiring` for keys that expire within `withinDays`. Each reminder is keyed by
 * key and due date, so a daily run raises it once, and a rotation (a new due date) raises a new one.
 */
export async function raiseKeyReminders(
  deps: { em: EntityManager; temporal: TemporalHandle; log?: Logger },
  opts: { withinDays: number; onPage?: () => void },
): Promise<ReminderCounts> {
  const counts: ReminderCounts = { rotationDue: 0, expiring: 0 };
  const live = `k.revoked_at is null and k.enabled and (k.expires_at is null or k.expires_at > now())`;
  const due = `coalesce(k.last_rotated_at, k.created_at) + make_interval(days => k.rotation_policy_days)`;

  for await (const row of pages(deps.em, opts.onPage, (after) => [
    `select k.pk, k.id, k.workspace_id, ${due} as at, k.rotation_policy_days, k.last_rotated_at
       from api_key k
      where ${live} and k.rotation_policy_days is not null
        and ${due} <= now() + make_interval(days => ?) and k.pk > ?
      order by k.pk limit ${PAGE}`,
    [opts.withinDays, after],
  ])) {
    const at = new Date(row.at);
    const overdue = at.getTime() <= Date.now();
    const raised = await raiseEvent(deps, {
      workspaceId: row.workspace_id,
      type: 'key.rotation_due',
      idempotencyKey: `key.rotation_due:${row.pk}:${at.toISOString().slice(0, 10)}`,
      payload: {
        key_id: row.id,
        due_at: at.toISOString(),
        overdue,
        rotation_policy_days: row.rotation_policy_days,
        last_rotated_at: row.last_rotated_at ? new Date(row.last_rotated_at).toISOString() : null,
      },
    });
    if (raised.created) counts.rotationDue++;
  }

  for await (const row of pages(deps.em, opts.onPage, (after) => [
    `select k.pk, k.id, k.workspace_id, k.expires_at as at, k.rotation_policy_days, k.last_rotated_at
       from api_key k
      where ${live} and k.expires_at is not null and k.expires_at <= now() + make_interval(days => ?) and k.pk > ?
      order by k.pk limit ${PAGE}`,
    [opts.withinDays, after],
  ])) {
    const at = new Date(row.at);
    const raised = await raiseEvent(deps, {
      workspaceId: row.workspace_id,
      type: 'key.expiring',
      idempotencyKey: `key.expiring:${row.pk}:${at.toISOString().slice(0, 10)}`,
      payload: { key_id: row.id, expires_at: at.toISOString() },
    });
    if (raised.created) counts.expiring++;
  }
  return counts;
}

/** Keyset pages over api_key by pk, so a large table is read in bounded steps. */
async function* pages(
  em: EntityManager,
  onPage: (() => void) | undefined,
  query: (after: string) => [string, unknown[]],
): AsyncGenerator<DueRow> {
  let after = '';
  for (;;) {
    const [sql, params] = query(after);
    const rows = await em.execute<DueRow[]>(sql, params);
    onPage?.();
    yield* rows;
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]!.pk;
  }
}
