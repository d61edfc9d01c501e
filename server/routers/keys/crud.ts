import { z } from 'zod';
import { listAudit } from '../../../core/audit.js';
import { createKey, deleteKey, getKey, listKeys, revokeKey, updateKey } from '../../../core/keys/service.js';
import { closedObject, createKeyInput, keyIdSchema, listKeysInput, listLimitSchema, updateKeyFields } from '../../../core/keys/schema.js';
import { actorOf, keyDeps } from '../../actor.js';
import { scopedProcedure } from '../../trpc.js';

const byId = closedObject({ id: keyIdSchema });

/** Key lifecycle: every procedure acts within the caller's workspace only. */
export const keyCrudProcedures = {
  list: scopedProcedure('keys:read')
    .input(listKeysInput.optional())
    .query(({ ctx, input }) => listKeys(ctx.em, ctx.principal.workspaceId, input ?? {})),

  get: scopedProcedure('keys:read')
    .input(byId)
    .query(({ ctx, input }) => getKey(ctx.em, ctx.principal.workspaceId, input.id)),

  /** Returns the secret once, in `secret`; no other call ever shows it again. */
  create: scopedProcedure('keys:write')
    .input(createKeyInput)
    .mutation(({ ctx, input }) => createKey(keyDeps(ctx), actorOf(ctx), input)),

  update: scopedProcedure('keys:write')
    .input(closedObject({ id: keyIdSchema, patch: updateKeyFields }))
    .mutation(({ ctx, input }) => updateKey(keyDeps(ctx), actorOf(ctx), input.id, input.patch)),

  revoke: scopedProcedure('keys:write')
    .input(byId)
    .mutation(({ ctx, input }) => revokeKey(keyDeps(ctx), actorOf(ctx), input.id)),

  delete: scopedProcedure('keys:write')
    .input(byId)
    .mutation(({ ctx, input }) => deleteKey(keyDeps(ctx), actorOf(ctx), input.id)),

  /** The audit entries about one key, newest first; they outlive the key. */
  auditTrail: scopedProcedure('audit:read')
    .input(closedObject({ id: keyIdSchema, limit: listLimitSchema.optional(), cursor: z.string().max(400).optional() }))
    .query(({ ctx, input }) =>
      listAudit(ctx.em, ctx.principal.workspaceId, { keyId: input.id, limit: input.limit, cursor: input.cursor }),
    ),
};
