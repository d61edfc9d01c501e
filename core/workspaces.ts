import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';
import { typedDb, type Row } from '../db/kysely.js';
import { closedObject } from './keys/schema.js';
import { conflict, notFound } from './errors.js';
import { recordAudit } from './audit.js';
import { page } from './page.js';
import { insertKey, type CreatedKey, type KeyActor, type KeyServiceDeps } from './keys/service.js';
import { raiseEvent } from './events.js';
import { defaultPlanId } from './plans/service.js';
import { brandingKeyPrefix } from './branding/key-prefix.js';

export const workspaceIdSchema = z
  .string({ error: 'expected a string' })
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase letters, digits and dashes, 2-63 characters, starting with a letter or digit')
  .meta({ description: 'Workspace id, chosen by the operator; appears in logs and workflow ids.', example: 'trebol' });

export const keyPrefixSchema = z
  .string({ error: 'expected a string' })
  .regex(/^[a-z][a-z0-9]{1,15}$/, 'a lowercase letter, then 1-15 lowercase letters or digits')
  .meta({ description: 'Start of every secret the workspace issues: `treb` gives `treb_sk_live_…`.', example: 'treb' });

export const createWorkspaceInput = closedObject({
  id: workspaceIdSchema,
  name: z.string({ error: 'expected a string' }).trim().min(1, 'must not be empty').max(200, 'at most 200 characters').meta({ example: 'Trebol' }),
  keyPrefix: keyPrefixSchema.optional(),
});
export type CreateWorkspaceInput = z.output<typeof createWorkspaceInput>;

export interface WorkspaceView {
  id: string;
  name: string;
  keyPrefix: string;
  createdAt: string;
  /** Keys that are not revoked. */
  activeKeys: number;
}

type WorkspaceRow = Row<'workspace'> & { active_keys: string | number | bigint };

const view = (r: WorkspaceRow): WorkspaceView => ({
  id: r.id,
  name: r.name,
  keyPrefix: r.key_prefix,
  createdAt: new Date(r.created_at).toISOString(),
  activeKeys: Number(r.active_keys),
});

/**
 * Workspaces with their count of keys that are not revoked. The workspace table is the tenants
 * themselves (no workspace scope applies: these are an operator's reads), and the count is of
 * each workspace's own keys.
 */
const selectWorkspaces = (em: EntityManager) =>
  typedDb(em)
    .selectFrom('workspace')
    .selectAll('workspace')
    .select((eb) =>
      eb
        .selectFrom('api_key')
        .select(eb.fn.countAll().as('n'))
        .whereRef('api_key.workspace_id', '=', 'workspace.id')
        .where('api_key.revoked_at', 'is', null)
        .as('active_keys'),
    );

async function findWorkspace(em: EntityManager, id: string): Promise<WorkspaceView> {
  const row = await selectWorkspaces(em).where('workspace.id', '=', id).executeTakeFirst();
  if (!row) throw notFound('Workspace', id);
  return view(row as WorkspaceRow);
}

/**
 * A new tenant on the default plan (none marked: no plan, unlimited) and its first admin key
 * (`admin`, shown once). The key gets the admin preset and not `operator`: a tenant's
 * administrator must not reach other tenants. `workspace.created` tells the provider's
 * operator-wide endpoints.
 */
export async function createWorkspace(
  deps: KeyServiceDeps,
  actor: KeyActor,
  input: CreateWorkspaceInput,
): Promise<{ workspace: WorkspaceView; adminKey: CreatedKey }> {
  return deps.em.transactional(async (tx) => {
    const planId = await defaultPlanId(tx);
    // The branding's prefix (`desc_sk_live_…`) for workspaces created from now on; existing ones keep theirs.
    const keyPrefix = input.keyPrefix ?? (await brandingKeyPrefix(tx)) ?? 'gate';
    const inserted = await typedDb(tx)
      .insertInto('workspace')
      .values({ id: input.id, name: input.name, key_prefix: keyPrefix, plan_id: planId, created_at: sql<Date>`clock_timestamp()` })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) throw conflict(`id: a workspace '${input.id}' already exists; choose another id`, 'id');
    await recordAudit(tx, actor, {
      workspaceId: input.id,
      action: 'workspace.created',
      targetType: 'workspace',
      targetId: input.id,
      changes: { name: input.name, key_prefix: keyPrefix, plan: planId },
    });
    await raiseEvent(
      { em: tx, temporal: deps.temporal },
      { workspaceId: input.id, type: 'workspace.created', payload: { workspace_id: input.id, name: input.name, plan_id: planId, actor_key_id: actor.keyId } },
    );
    const adminKey = await insertKey(tx, deps, actor, {
      workspaceId: input.id,
      id: 'admin',
      name: 'First admin key',
      environment: 'live',
      permissions: ['admin'],
      rateLimits: [],
      credits: null,
      expiresAt: null,
      ipAllowlist: [],
      rotationPolicyDays: null,
      metadata: {},
      enabled: true,
    });
    return { workspace: await findWorkspace(tx, input.id), adminKey };
  });
}

export async function getWorkspace(em: EntityManager, id: string): Promise<WorkspaceView> {
  return findWorkspace(em, id);
}

/** Every workspace, newest first: an operator's view. */
export async function listWorkspaces(
  em: EntityManager,
  opts: { limit?: number; cursor?: string } = {},
): Promise<{ workspaces: WorkspaceView[]; nextCursor: string | null }> {
  const { items, nextCursor } = await page(selectWorkspaces(em), { time: 'created_at', id: 'id' }, { cursor: opts.cursor, limit: opts.limit ?? 100 });
  return { workspaces: items.map((r) => view(r as WorkspaceRow)), nextCursor };
}
