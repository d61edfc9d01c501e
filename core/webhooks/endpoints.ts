import { HttpError, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { EndpointStatus } from '../../db/entities/webhook-endpoint.js';
import type { WebhookDeps } from './deps.js';
import { checkEndpointUrl } from './egress.js';
import { assertEventTypesKnown } from './event-types.js';
import { seal } from './secret-box.js';
import { generateSigningSecret } from './signing.js';

/** How long a rotated-out secret keeps signing beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000;

export interface EndpointView {
  id: string;
  url: string;
  description: string;
  /** null: every event type. */
  eventTypes: string[] | null;
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

export interface EndpointRow {
  id: string;
  workspace_id: string;
  url: string;
  description: string;
  event_types: string[] | null;
  status: EndpointStatus;
  https_only: boolean;
  disabled_reason: string | null;
  disabled_at: Date | null;
  last_triggered_at: Date | null;
  secret_rotated_at: Date | null;
  previous_secret_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, workspace_id, url, description, event_types, status, https_only, disabled_reason, disabled_at,
  last_triggered_at, secret_rotated_at, previous_secret_expires_at, created_at, updated_at`;

const date = (d: Date | null) => (d ? new Date(d) : null);

export function endpointView(r: EndpointRow): EndpointView {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    status: r.status,
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
  const rows = await deps.em.execute<EndpointRow[]>(`select ${COLUMNS} from webhook_endpoint where workspace_id = ? and id = ?`, [workspaceId, id]);
  if (!rows[0]) throw notFound('Webhook endpoint', id);
  return rows[0];
}

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
}

/** Creates an endpoint and returns its signing secret, the one time it is shown. */
export async function createEndpoint(deps: WebhookDeps, workspaceId: string, input: CreateEndpointInput): Promise<{ endpoint: EndpointView; secret: string }> {
  const httpsOnly = input.httpsOnly ?? false;
  const eventTypes = normaliseTypes(input.eventTypes);
  await assertUrl(deps, input.url, httpsOnly);
  if (eventTypes) await assertEventTypesKnown(deps.em, workspaceId, eventTypes, 'event_types');
  const id = newId('ep', 12);
  const secret = generateSigningSecret();
  const sealed = await seal({ em: deps.em, secretKey: deps.config.GATEHOUSE_SECRET_KEY }, secret, id);
  const max = deps.config.GATEHOUSE_MAX_WEBHOOK_ENDPOINTS;
  const rows = await deps.em.transactional(async (tx) => {
    // Every event fans out to every endpoint: the cap bounds that. Creations in one workspace queue
    // on its row, so two at the cap cannot both count max - 1 (FOR NO KEY UPDATE leaves the
    // foreign-key locks of inserts elsewhere in the workspace alone).
    await tx.execute(`select 1 from workspace where id = ? for no key update`, [workspaceId]);
    const [{ n } = { n: '0' }] = await tx.execute<{ n: string }[]>(`select count(*) as n from webhook_endpoint where workspace_id = ?`, [workspaceId]);
    if (Number(n) >= max) {
      throw conflict(`This workspace has reached its limit of ${max} webhook endpoints (GATEHOUSE_MAX_WEBHOOK_ENDPOINTS); delete one before creating another`);
    }
    return tx.execute<EndpointRow[]>(
      `insert into webhook_endpoint (id, workspace_id, url, description, event_types, status, https_only, secret_ciphertext, created_at, updated_at)
       values (?, ?, ?, ?, ?::jsonb, 'active', ?, ?, now(), now())
       returning ${COLUMNS}`,
      [id, workspaceId, input.url, input.description ?? '', eventTypes ? JSON.stringify(eventTypes) : null, httpsOnly, sealed],
    );
  });
  return { endpoint: endpointView(rows[0]!), secret };
}

export async function listEndpoints(deps: Pick<WebhookDeps, 'em'>, workspaceId: string): Promise<EndpointView[]> {
  const rows = await deps.em.execute<EndpointRow[]>(
    `select ${COLUMNS} from webhook_endpoint where workspace_id = ? order by created_at, id`,
    [workspaceId],
  );
  return rows.map(endpointView);
}

export async function getEndpoint(deps: Pick<WebhookDeps, 'em'>, workspaceId: string, id: string): Promise<EndpointView> {
  return endpointView(await findEndpoint(deps, workspaceId, id));
}

export interface UpdateEndpointInput {
  url?: string;
  description?: string;
  eventTypes?: string[] | null;
  httpsOnly?: boolean;
  /** `paused` holds nothing back for later: see docs in deliverAttempt. `active` also re-enables a disabled endpoint. */
  status?: 'active' | 'paused';
}

export async function updateEndpoint(deps: WebhookDeps, workspaceId: string, id: string, patch: UpdateEndpointInput): Promise<EndpointView> {
  const current = await findEndpoint(deps, workspaceId, id);
  const url = patch.url ?? current.url;
  const httpsOnly = patch.httpsOnly ?? current.https_only;
  if (patch.url !== undefined || patch.httpsOnly !== undefined) await assertUrl(deps, url, httpsOnly);
  const eventTypes = patch.eventTypes === undefined ? current.event_types : normaliseTypes(patch.eventTypes);
  if (patch.eventTypes && eventTypes) await assertEventTypesKnown(deps.em, workspaceId, eventTypes, 'event_types');
  const status = patch.status ?? current.status;
  // Re-enabling starts a fresh failure streak: the 5-day rule must not fire on the first failure after it.
  const reenable = patch.status === 'active' && current.status !== 'active';
  const rows = await deps.em.execute<EndpointRow[]>(
    `update webhook_endpoint
        set url = ?, https_only = ?, event_types = ?::jsonb, description = ?, status = ?,
            disabled_reason = case when ? then null else disabled_reason end,
            disabled_at = case when ? then null else disabled_at end,
            first_failure_at = case when ? then null else first_failure_at end,
            updated_at = now()
      where workspace_id = ? and id = ?
      returning ${COLUMNS}`,
    [url, httpsOnly, eventTypes ? JSON.stringify(eventTypes) : null, patch.description ?? current.description, status, reenable, reenable, reenable, workspaceId, id],
  );
  if (!rows[0]) throw notFound('Webhook endpoint', id);
  return endpointView(rows[0]);
}

/** Deletes the endpoint with its deliveries and attempts; a delivery workflow still running finds nothing and ends. */
export async function deleteEndpoint(deps: Pick<WebhookDeps, 'em'>, workspaceId: string, id: string): Promise<void> {
  const rows = await deps.em.execute<{ id: string }[]>(`delete from webhook_endpoint where workspace_id = ? and id = ? returning id`, [workspaceId, id]);
  if (!rows[0]) throw notFound('Webhook endpoint', id);
}

/**
 * Issues a new signing secret, shown once. The current one becomes the previous one and keeps
 * signing, beside the new one, for 24 hours, so receivers can switch without dropping a delivery.
 */
export async function rotateEndpointSecret(deps: WebhookDeps, workspaceId: string, id: string): Promise<{ endpoint: EndpointView; secret: string }> {
  await findEndpoint(deps, workspaceId, id);
  const secret = generateSigningSecret();
  const sealed = await seal({ em: deps.em, secretKey: deps.config.GATEHOUSE_SECRET_KEY }, secret, id);
  const rows = await deps.em.execute<EndpointRow[]>(
    `update webhook_endpoint
        set previous_secret_ciphertext = secret_ciphertext,
            previous_secret_expires_at = now() + (? * interval '1 millisecond'),
            secret_ciphertext = ?, secret_rotated_at = now(), updated_at = now()
      where workspace_id = ? and id = ?
      returning ${COLUMNS}`,
    [SECRET_OVERLAP_MS, sealed, workspaceId, id],
  );
  if (!rows[0]) throw notFound('Webhook endpoint', id);
  return { endpoint: endpointView(rows[0]), secret };
}

export function assertActive(endpoint: EndpointRow): void {
  if (endpoint.status !== 'active') {
    throw conflict(`Webhook endpoint '${endpoint.id}' is ${endpoint.status}; set its status to active first`, 'status');
  }
}
