import { sql } from 'kysely';
import { json, typedDb, type Row } from '../../db/kysely.js';
import { HttpError, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { workspaceScope } from '../scope.js';
import type { EndpointStatus } from '../../db/entities/webhook-endpoint.js';
import type { WebhookDeps } from './deps.js';
import { checkEndpointUrl } from './egress.js';
import { assertEventTypesKnown } from './event-types.js';
import { releaseHeld } from './held.js';
import { byHealth, endpointHealth, type EndpointHealth } from './health.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { seal } from './secret-box.js';
import { generateSigningSecret } from './signing.js';
import { operatorEndpointTypes } from './operator-endpoints.js';
import { assertEndpointWithinPlan } from '../plans/enforce.js';

/** How long a rotated-out secret keeps signing beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000;

export interface EndpointView {
  id: string;
  url: string;
  description: string;
  /** null: every event type. */
  eventTypes: string[] | null;
  /** Operator-wide: receives the operator event types of every workspace (core/webhooks/operator-endpoints.ts). */
  allWorkspaces: boolean;
  status: EndpointStatus;
  httpsOnly: boolean;
  disabledReason: string | null;
  disabledAt: Date | null;
  lastTriggeredAt: Date | null;
  secretRotatedAt: Date | null;
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The columns every read of an endpoint returns: never the sealed secrets. */
const COLUMNS = [
  'id',
  'workspace_id',
  'url',
  'description',
  'event_types',
  'all_workspaces',
  'status',
  'https_only',
  'disabled_reason',
  'disabled_at',
  'last_triggered_at',
  'secret_rotated_at',
  'previous_secret_expires_at',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof Row<'webhook_endpoint'>)[];

/** An endpoint as stored (its secrets left out): the type comes from the WebhookEndpoint entity. */
export type EndpointRow = Pick<Row<'webhook_endpoint'>, (typeof COLUMNS)[number]>;

const date = (d: Date | null) => (d ? new Date(d) : null);

export function endpointView(r: EndpointRow): EndpointView {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    allWorkspaces: r.all_workspaces,
    status: r.status as EndpointStatus,
    httpsOnly: r.https_only,
    disabledReason: r.disabled_reason,
    disabledAt: date(r.disabled_at),
    lastTriggeredAt: date(r.last_triggered_at),
    secretRotatedAt: date(r.secret_rotated_at),
    // Past its expiry the previous secret no longer signs: do not suggest otherwise.
    previousSecretExpiresAt: r.previous_secret_expires_at && new Date(r.previous_secret_expires_at) > new Date() ? new Date(r.previous_secret_expires_at) : null,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

/** The only way to read an endpoint: always by workspace and id (another workspace's is "not found"). */
export async function findEndpoint(deps: Pick<WebhookDeps, 'em'>, workspaceId: string, id: string): Promise<EndpointRow> {
  return workspaceScope(deps.em, workspaceId)
    .selectFrom('webhook_endpoint')
    .select(COLUMNS)
    .where('id', '=', id)
    .executeTakeFirstOrThrow(() => endpointNotFound(id));
}

const endpointNotFound = (id: string) => notFound('Webhook endpoint', id);

async function assertUrl(deps: WebhookDeps, url: string, httpsOnly: boolean): Promise<void> {
  const why = await checkEndpointUrl(url, { httpsOnly, allowCidrs: deps.config.GATEHOUSE_EGRESS_ALLOW_CIDRS });
  if (why) throw new HttpError(400, 'invalid_url', `url: ${why}`, 'url');
}

/** An empty list would subscribe to nothing, which no one means: it is refused rather than guessed at. */
function normaliseTypes(types: string[] | null | undefined): string[] | null {
  if (types === undefined || types === null) return null;
  if (types.length === 0) throw new HttpError(400, 'invalid_input', 'event_types: omit it or send null to subscribe to every type; an empty list subscribes to none', 'event_types');
  return [...new Set(types)].sort();
}

export interface CreateEndpointInput {
  url: string;
  description?: string;
  eventTypes?: string[] | null;
  httpsOnly?: boolean;
  /** Every workspace's operator events (operators only). */
  allWorkspaces?: boolean;
}

/** Creates an endpoint and returns its signing secret, the one time it is shown. */
export async function createEndpoint(
  deps: WebhookDeps,
  workspaceId: string,
  input: CreateEndpointInput,
  /** The caller's scopes: an operator-wide endpoint needs `operator`. */
  scopes?: ReadonlySet<string>,
): Promise<{ endpoint: EndpointView; secret: string }> {
  const httpsOnly = input.httpsOnly ?? false;
  const eventTypes = input.allWorkspaces ? operatorEndpointTypes(scopes, input.eventTypes) : normaliseTypes(input.eventTypes);
  await assertUrl(deps, input.url, httpsOnly);
  if (eventTypes) await assertEventTypesKnown(deps.em, workspaceId, eventTypes, 'event_types');
  const id = newId('ep', 12);
  const secret = generateSigningSecret();
  const sealed = await seal({ em: deps.em, secretKey: deps.config.GATEHOUSE_SECRET_KEY }, secret, id);
  const max = deps.config.GATEHOUSE_MAX_WEBHOOK_ENDPOINTS;
  const row = await deps.em.transactional(async (tx) => {
    // Every event fans out to every endpoint: the cap bounds that. Creations in one workspace queue
    // on its row, so two at the cap cannot both count max - 1 (FOR NO KEY UPDATE leaves the
    // foreign-key locks of inserts elsewhere in the workspace alone).
    await typedDb(tx).selectFrom('workspace').select('id').where('id', '=', workspaceId).forNoKeyUpdate().execute();
    const scope = workspaceScope(tx, workspaceId);
    const { n } = await scope
      .selectFrom('webhook_endpoint')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    if (Number(n) >= max) {
      throw conflict(`This workspace has reached its limit of ${max} webhook endpoints (GATEHOUSE_MAX_WEBHOOK_ENDPOINTS); delete one before creating another`);
    }
    // The plan's own cap, under the same lock; the global cap above stays the outer bound.
    await assertEndpointWithinPlan(tx, workspaceId, Number(n));
    return scope
      .insertInto('webhook_endpoint', {
        id,
        url: input.url,
        description: input.description ?? '',
        event_types: eventTypes ? json(eventTypes) : null,
        all_workspaces: input.allWorkspaces ?? false,
        status: 'active',
        https_only: httpsOnly,
        secret_ciphertext: sealed,
        created_at: sql<Date>`now()`,
        updated_at: sql<Date>`now()`,
      })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
  });
  return { endpoint: endpointView(row), secret };
}

/** An endpoint as lists and reads show it: with how its attempts went (core/webhooks/health.ts). */
export type EndpointWithHealth = EndpointView & EndpointHealth;

async function withHealth(em: EntityManager, workspaceId: string, views: EndpointView[]): Promise<EndpointWithHealth[]> {
  const health = await endpointHealth(em, workspaceId, views);
  return views.map((v) => ({ ...v, ...health.get(v.id)! }));
}

/** Failing endpoints first (then disabled ones), else oldest first. */
export async function listEndpoints(deps: Pick<WebhookDeps, 'em'>, workspaceId: string): Promise<EndpointWithHealth[]> {
  const rows = await workspaceScope(deps.em, workspaceId).selectFrom('webhook_endpoint').select(COLUMNS).orderBy('created_at').orderBy('id').execute();
  return byHealth(await withHealth(deps.em, workspaceId, rows.map(endpointView)));
}

export async function getEndpoint(deps: Pick<WebhookDeps, 'em'>, workspaceId: string, id: string): Promise<EndpointWithHealth> {
  return (await withHealth(deps.em, workspaceId, [endpointView(await findEndpoint(deps, workspaceId, id))]))[0]!;
}

export interface UpdateEndpointInput {
  url?: string;
  description?: string;
  eventTypes?: string[] | null;
  httpsOnly?: boolean;
  /**
   * `paused`: nothing is sent; events published meanwhile are held (deliveries in status `paused`).
   * `active` resumes (and re-enables a disabled endpoint), releasing what was held.
   */
  status?: 'active' | 'paused';
  /** On resume: send the held deliveries (default) or mark them `skipped`. */
  deliverHeld?: boolean;
}

export async function updateEndpoint(deps: WebhookDeps, workspaceId: string, id: string, patch: UpdateEndpointInput, scopes?: ReadonlySet<string>): Promise<EndpointView> {
  return (await applyEndpointUpdate(deps, workspaceId, id, patch, scopes)).endpoint;
}

/** updateEndpoint, also telling how many held deliveries a resume released. */
export async function applyEndpointUpdate(
  deps: WebhookDeps,
  workspaceId: string,
  id: string,
  patch: UpdateEndpointInput,
  scopes?: ReadonlySet<string>,
): Promise<{ endpoint: EndpointView; released: number }> {
  const current = await findEndpoint(deps, workspaceId, id);
  // An operator-wide endpoint stays an operator's: no other key of its workspace redirects every workspace's events.
  if (current.all_workspaces) operatorEndpointTypes(scopes, current.event_types);
  const url = patch.url ?? current.url;
  const httpsOnly = patch.httpsOnly ?? current.https_only;
  if (patch.url !== undefined || patch.httpsOnly !== undefined) await assertUrl(deps, url, httpsOnly);
  const eventTypes =
    patch.eventTypes === undefined ? current.event_types : current.all_workspaces ? operatorEndpointTypes(scopes, patch.eventTypes) : normaliseTypes(patch.eventTypes);
  if (patch.eventTypes && eventTypes) await assertEventTypesKnown(deps.em, workspaceId, eventTypes, 'event_types');
  const status = patch.status ?? current.status;
  // Re-enabling starts a fresh failure streak: the 5-day rule must not fire on the first failure after it.
  const reenable = patch.status === 'active' && current.status !== 'active';
  const row = await workspaceScope(deps.em, workspaceId)
    .updateTable('webhook_endpoint')
    .set({
      url,
      https_only: httpsOnly,
      event_types: eventTypes ? json(eventTypes) : null,
      description: patch.description ?? current.description,
      status,
      ...(reenable ? { disabled_reason: null, disabled_at: null, first_failure_at: null } : {}),
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow(() => endpointNotFound(id));
  // Once active no new delivery is held, so one pass releases every held one (an event stored
  // concurrently on the snapshot before this update is the rare exception: it stays `paused`,
  // shown in the list, for the next resume or a recovery).
  const released = status === 'active' && current.status === 'paused' ? await releaseHeld(deps, workspaceId, id, patch.deliverHeld ?? true) : 0;
  return { endpoint: endpointView(row), released };
}

/** Deletes the endpoint with its deliveries and attempts; a delivery workflow still running finds nothing and ends. */
export async function deleteEndpoint(deps: Pick<WebhookDeps, 'em'>, workspaceId: string, id: string, scopes?: ReadonlySet<string>): Promise<void> {
  if ((await findEndpoint(deps, workspaceId, id)).all_workspaces) operatorEndpointTypes(scopes, null);
  await workspaceScope(deps.em, workspaceId)
    .deleteFrom('webhook_endpoint')
    .where('id', '=', id)
    .returning('id')
    .executeTakeFirstOrThrow(() => endpointNotFound(id));
}

/**
 * Issues a new signing secret, shown once. The current one becomes the previous one and keeps
 * signing, beside the new one, for 24 hours, so receivers can switch without dropping a delivery.
 */
export async function rotateEndpointSecret(deps: WebhookDeps, workspaceId: string, id: string, scopes?: ReadonlySet<string>): Promise<{ endpoint: EndpointView; secret: string }> {
  if ((await findEndpoint(deps, workspaceId, id)).all_workspaces) operatorEndpointTypes(scopes, null);
  const secret = generateSigningSecret();
  const sealed = await seal({ em: deps.em, secretKey: deps.config.GATEHOUSE_SECRET_KEY }, secret, id);
  const row = await workspaceScope(deps.em, workspaceId)
    .updateTable('webhook_endpoint')
    .set((eb) => ({
      previous_secret_ciphertext: eb.ref('secret_ciphertext'),
      previous_secret_expires_at: sql<Date>`now() + (${SECRET_OVERLAP_MS} * interval '1 millisecond')`,
      secret_ciphertext: sealed,
      secret_rotated_at: sql<Date>`now()`,
      updated_at: sql<Date>`now()`,
    }))
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow(() => endpointNotFound(id));
  return { endpoint: endpointView(row), secret };
}

export function assertActive(endpoint: EndpointRow): void {
  if (endpoint.status !== 'active') {
    throw conflict(`Webhook endpoint '${endpoint.id}' is ${endpoint.status}; set its status to active first`, 'status');
  }
}
