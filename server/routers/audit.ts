import { z } from 'zod';
import { listAudit } from '../../core/audit.js';
import { closedObject, keyIdSchema, listLimitSchema } from '../../core/keys/schema.js';
import { router, scopedProcedure } from '../trpc.js';

export const auditListInput = closedObject({
  keyId: keyIdSchema.optional(),
  action: z.string().max(64).optional(),
  since: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  until: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  limit: listLimitSchema.optional(),
  cursor: z.string().max(400).optional(),
});

export const auditRouter = router({
  /** The caller's workspace's audit trail, newest first. */
  list: scopedProcedure('audit:read')
    .input(auditListInput.optional())
    .query(({ ctx, input }) => listAudit(ctx.em, ctx.principal.workspaceId, input ?? {})),
});
