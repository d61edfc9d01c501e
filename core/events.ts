import type { EntityManager } from '@mikro-orm/postgresql';
import type { TemporalHandle } from '../temporal/client.js';
import { newId } from './ids.js';

export interface RaiseEventInput {
  workspaceId: string;
  /** A built-in type such as `key.rotated`, or a custom type registered by the workspace. */
  type: string;
  payload: Record<string, unknown>;
  /** Same key, same workspace: the first event is returned and nothing new is stored. */
  idempotencyKey?: string;
  source?: 'api' | 'gatehouse';
}

export interface RaisedEvent {
  id: string;
  type: string;
  createdAt: Date;
  /** False when an earlier event with the same idempotency key was returned instead. */
  created: boolean;
}

export interface EventDeps {
  em: EntityManager;
  temporal: TemporalHandle;
}

/**
 * The one way an event enters Gatehouse, from the API and from activities alike. It is stored
 * first (the outbox), so an event that was accepted is never lost; delivery follows from the row.
 */
export async function raiseEvent(deps: EventDeps, input: RaiseEventInput): Promise<RaisedEvent> {
  const id = newId('msg', 12);
  const rows = await deps.em.execute<{ id: string; type: string; created_at: Date; inserted: boolean }[]>(
    `insert into event (id, workspace_id, type, payload, idempotency_key, source, created_at)
     values (?, ?, ?, ?, ?, ?, now())
     on conflict (workspace_id, idempotency_key) do update set idempotency_key = excluded.idempotency_key
     returning id, type, created_at, (xmax = 0) as inserted`,
    [id, input.workspaceId, input.type, JSON.stringify(input.payload), input.idempotencyKey ?? null, input.source ?? 'gatehouse'],
  );
  const row = rows[0]!;
  return { id: row.id, type: row.type, createdAt: new Date(row.created_at), created: row.inserted };
}
