import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { workspaceScope } from '../scope.js';
import type { EndpointStatus } from '../../db/entities/webhook-endpoint.js';

// How an endpoint is doing, told by its attempts rather than its deliveries: a delivery still
// retrying has failed attempts already, and an endpoint failing every attempt is not "active".

export type EndpointHealthState = 'healthy' | 'failing' | 'disabled' | 'paused' | 'no_traffic';

export interface EndpointHealth {
  /** Attempts made over the last 24 hours (every retry counts). */
  attempts24h: number;
  /** Share of those attempts answered 2xx, 0–1; null without attempts. */
  successRate24h: number | null;
  /** Start of the current run of failed attempts (every attempt since has failed); null after a success. */
  failingSince: Date | null;
  health: EndpointHealthState;
}

export const HEALTH_WINDOW_MS = 24 * 3_600_000;

/** The state shown: paused and disabled say so; otherwise an unbroken run of failures is failing. */
export function healthState(status: EndpointStatus, failingSince: Date | null, attempts24h: number): EndpointHealthState {
  if (status === 'disabled') return 'disabled';
  if (status === 'paused') return 'paused';
  if (failingSince) return 'failing';
  return attempts24h === 0 ? 'no_traffic' : 'healthy';
}

/** Failing endpoints first, then disabled ones, then the rest in their own order (a stable sort). */
const RANK: Record<EndpointHealthState, number> = { failing: 0, disabled: 1, paused: 2, healthy: 2, no_traffic: 2 };
export function byHealth<T extends { health: EndpointHealthState }>(list: T[]): T[] {
  return [...list].sort((a, b) => RANK[a.health] - RANK[b.health]);
}

/** The 24-hour attempt counts and failure streaks of the workspace's endpoints (all of them, or those named). */
export async function endpointHealth(
  em: EntityManager,
  workspaceId: string,
  endpoints: { id: string; status: string }[],
): Promise<Map<string, EndpointHealth>> {
  const out = new Map<string, EndpointHealth>();
  if (endpoints.length === 0) return out;
  const scope = workspaceScope(em, workspaceId);
  const ids = endpoints.map((e) => e.id);
  // Attempts have no workspace of their own: they are reached through the workspace's deliveries.
  const counts = await scope
    .selectFrom('webhook_delivery')
    .innerJoin('webhook_attempt', 'webhook_attempt.delivery_id', 'webhook_delivery.id')
    .select((eb) => [
      'webhook_delivery.endpoint_id',
      eb.fn.countAll<string>().as('attempts'),
      sql<string>`count(*) filter (where ${eb.ref('webhook_attempt.status_code')} between 200 and 299)`.as('ok'),
    ])
    .where('webhook_delivery.endpoint_id', 'in', ids)
    .where('webhook_attempt.attempted_at', '>', sql<Date>`now() - (${HEALTH_WINDOW_MS} * interval '1 millisecond')`)
    .groupBy('webhook_delivery.endpoint_id')
    .execute();
  const streaks = await scope.selectFrom('webhook_endpoint').select(['id', 'first_failure_at']).where('id', 'in', ids).execute();
  const byId = new Map(counts.map((c) => [c.endpoint_id, { attempts: Number(c.attempts), ok: Number(c.ok) }]));
  const since = new Map(streaks.map((s) => [s.id, s.first_failure_at ? new Date(s.first_failure_at) : null]));
  for (const e of endpoints) {
    const c = byId.get(e.id) ?? { attempts: 0, ok: 0 };
    const failingSince = since.get(e.id) ?? null;
    out.set(e.id, {
      attempts24h: c.attempts,
      successRate24h: c.attempts ? c.ok / c.attempts : null,
      failingSince,
      health: healthState(e.status as EndpointStatus, failingSince, c.attempts),
    });
  }
  return out;
}
