import { z } from 'zod';
import { recordAudit } from '../../core/audit.js';
import { nextRotationAt, rotateSigningKeyNow } from '../../core/oauth/rotation.js';
import { listSigningKeys, revokeSigningKey } from '../../core/oauth/signing-keys.js';
import { actorOf } from '../actor.js';
import type { Context } from '../context.js';

// The operator's signing-key actions, shared by the tRPC procedures and the REST routes.

/** A kid is an RFC 7638 thumbprint: 43 base64url characters (64 allowed, as the column). */
export const kidSchema = z
  .string({ error: 'expected a key id (kid)' })
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a key id (kid) of base64url characters')
  .meta({ description: 'The signing key’s id, as in the JWKS and in tokens’ headers.' });

type AuthedContext = Context & { principal: NonNullable<Context['principal']> };

export async function signingKeysOverview(ctx: Context) {
  const [keys, next] = await Promise.all([listSigningKeys(ctx.em), nextRotationAt(ctx)]);
  return { keys, nextRotationAt: next };
}

export async function rotateNow(ctx: AuthedContext) {
  const started = await rotateSigningKeyNow(ctx);
  await recordAudit(ctx.em, actorOf(ctx), {
    workspaceId: ctx.principal.workspaceId,
    action: 'signing_key.rotation_started',
    targetType: 'signing_key',
    targetId: started.workflowId,
  });
  return started;
}

export function revokeKid(ctx: AuthedContext, kid: string) {
  return revokeSigningKey({ em: ctx.em, secretKey: ctx.config.GATEHOUSE_SECRET_KEY }, actorOf(ctx), kid);
}

