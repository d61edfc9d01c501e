import type { EntityManager } from '@mikro-orm/postgresql';
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { TemporalHandle } from '../../temporal/client.js';
import { typedDb, type Db, type Row } from '../../db/kysely.js';
import { raiseEvent } from '../events.js';
import type { Logger } from '../log.js';

export interface ReminderCounts {
  /** Events newly raised by this run; reminders raised by an earlier run are not counted again. */
  rotationDue: number;
  expiring: number;
}

type DueRow = Pick<Row<'api_key'>, 'pk' | 'id' | 'workspace_id' | 'rotation_policy_days' | 'last_rotated_at'> & { at: Date };

const PAGE = 500;

type KeyExpressions = ExpressionBuilder<Db, 'api_key'>;

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
  const horizon = sql<Date>`now() + make_interval(days => ${opts.withinDays})`;
  const due = (eb: KeyExpressions) =>
    sql<Date>`${eb.fn.coalesce('last_rotated_at', 'created_at')} + make_interval(days => ${eb.ref('rotation_policy_days')})`;

  for await (const row of pages(deps.em, opts.onPage, due, (eb) =>
    eb.and([eb('rotation_policy_days', 'is not', null), eb(due(eb), '<=', horizon)]),
  )) {
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

  for await (const row of pages(deps.em, opts.onPage, (eb) => eb.ref('expires_at'), (eb) =>
    eb.and([eb('expires_at', 'is not', null), eb('expires_at', '<=', horizon)]),
  )) {
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

/**
 * Live keys of every workspace (not revoked, enabled, not expired) matching `which`, each with its
 * date `at`, in keyset pages by pk, so a large table is read in bounded steps. A sweep across
 * workspaces: each event is raised in its key's own workspace.
 */
async function* pages(
  em: EntityManager,
  onPage: (() => void) | undefined,
  at: (eb: KeyExpressions) => Expression<Date | null>,
  which: (eb: KeyExpressions) => Expression<SqlBool>,
): AsyncGenerator<DueRow> {
  let after = '';
  for (;;) {
    const rows: DueRow[] = await typedDb(em)
      .selectFrom('api_key')
      .select((eb) => ['pk', 'id', 'workspace_id', 'rotation_policy_days', 'last_rotated_at', sql<Date>`${at(eb)}`.as('at')])
      .where('revoked_at', 'is', null)
      .where('enabled', '=', true)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .where(which)
      .where('pk', '>', after)
      .orderBy('pk')
      .limit(PAGE)
      .execute();
    onPage?.();
    yield* rows;
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]!.pk;
  }
}
