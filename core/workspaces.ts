import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { closedObject } from './keys/schema.js';
import { conflict, notFound } from './errors.js';
import { recordAudit } from './audit.js';
import { cursorTimestamp, decodeCursor, encodeCursor } from './cursor.js';
import { insertKey, type CreatedKey, type KeyActor, type KeyServiceDeps } from './keys/service.js';

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

interface WorkspaceRow {
  id: string;
  name: string;
  key_prefix: string;
  created_at: Date;
  active_keys: string | number;
  cursor_ts: string;
}

const view = (r: WorkspaceRow): WorkspaceView => ({
  id: r.id,
  name: r.name,
  keyPrefix: r.key_prefix,
  createdAt: new Date(r.created_at).toISOString(),
  activeKeys: Number(r.active_keys),
});

const SELECT = `select w.*, ${cursorTimestamp('w.created_at')} as cursor_ts,
  (select count(*) from api_key k where k.workspace_id = w.id and k.revoked_at is null) as active_keys from workspace w`;

/**
 * A new tenant and its first admin key (`admin`, shown once). The key gets the admin preset and not
 * `operator`: a tenant's administrator must not reach other tenants.
 */
export async function createWorkspace(
  deps: KeyServiceDeps,
  actor: KeyActor,
  input: CreateWorkspaceInput,
): Promise<{ workspace: WorkspaceView; adminKey: CreatedKey }> {
  return deps.em.transactional(async (tx) => {
    const inserted = await tx.execute<{ id: string }[]>(
      `insert into workspace (id, name, key_prefix, created_at) values (?, ?, ?, clock_timestamp()) on conflict (id) do nothing returning id`,
      [input.id, input.name, input.keyPrefix ?? 'gate'],
    );
    if (inserted.length === 0) throw conflict(`id: a workspace '${input.id}' already exists; choose another id`, 'id');
    await recordAudit(tx, actor, {
      workspaceId: input.id,
      action: 'workspace.created',
      targetType: 'workspace',
      targetId: input.id,
      changes: { name: input.name, key_prefix: input.keyPrefix ?? 'gate' },
    });
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
    const [row] = await tx.execute<WorkspaceRow[]>(`${SELECT} where w.id = ?`, [input.id]);
    return { workspace: view(row!), adminKey };
  });
}

export async function getWorkspace(em: EntityManager, id: string): Promise<WorkspaceView> {
  const [row] = await em.execute<WorkspaceRow[]>(`${SELECT} where w.id = ?`, [id]);
  if (!row) throw notFound('Workspace', id);
  return view(row);
}

/** Every workspace, newest first: an operator's view. */
export async function listWorkspaces(
  em: EntityManager,
  opts: { limit?: number; cursor?: string } = {},
): Promise<{ workspaces: WorkspaceView[]; nextCursor: string | null }> {
  const limit = opts.limit ?? 100;
  const params: unknown[] = [];
  let where = '';
  if (opts.cursor) {
    const c = decodeCursor(opts.cursor);
    where = 'where (w.created_at, w.id) < (?::timestamptz, ?)';
    params.push(c.timestamp, c.id);
  }
  const rows = await em.execute<WorkspaceRow[]>(`${SELECT} ${where} order by w.created_at desc, w.id desc limit ?`, [...params, limit + 1]);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { workspaces: page.map(view), nextCursor: rows.length > limit && last ? encodeCursor(last.cursor_ts, last.id) : null };
}
