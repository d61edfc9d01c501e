import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/** A grace period never reaches past 7 days after the rotation, extensions included. */
export const MAX_GRACE_SECONDS = 7 * 24 * 60 * 60;

/** Ids and times only: the new secret and every hash stay out of workflow history. */
export interface RotationInput {
  workspaceId: string;
  keyPk: string;
  keyId: string;
  /** The key's rotation count after this rotation. */
  rotation: number;
  rotatedAt: string;
  graceEndsAt: string;
}

export interface RotationState {
  phase: 'grace' | 'completed';
  workspaceId: string;
  keyId: string;
  rotation: number;
  rotatedAt: string;
  graceEndsAt: string;
  completedAt: string | null;
}

export const rotationStateQuery = defineQuery<RotationState>('rotationState');
/** Ends the grace period now and answers once the previous secret is revoked. */
export const endGraceNowUpdate = defineUpdate<RotationState>('endGraceNow');
/** Pushes the end of the grace period back by that many seconds (validated against the 7-day cap). */
export const extendGraceUpdate = defineUpdate<RotationState, [seconds: number]>('extendGrace');
/** Fire-and-forget end of grace, for a newer rotation superseding this one (needs no worker to be up). */
export const endGraceSignal = defineSignal('endGrace');

const { revokeRetiredSecrets, setRetiredSecretsExpiry } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // Revocation has to happen eventually: retry without a cap, backing off to once a minute.
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/**
 * Rotation `rotation:<workspace>:<keyPk>:<n>` (`<keyId>` in ids started before keys were named by
 * primary key): waits out the grace period, then revokes the secret it retired.
 */
export async function keyRotationWorkflow(input: RotationInput): Promise<RotationState> {
  const rotatedAtMs = Date.parse(input.rotatedAt);
  let graceEndsAtMs = Date.parse(input.graceEndsAt);
  let endNow = false;
  let completedAt: string | null = null;
  let extensions = 0;
  const ids = { workspaceId: input.workspaceId, keyPk: input.keyPk, keyId: input.keyId, rotation: input.rotation };

  const state = (): RotationState => ({
    phase: completedAt ? 'completed' : 'grace',
    workspaceId: input.workspaceId,
    keyId: input.keyId,
    rotation: input.rotation,
    rotatedAt: input.rotatedAt,
    graceEndsAt: new Date(graceEndsAtMs).toISOString(),
    completedAt,
  });
  const checkExtension = (seconds: number) => {
    if (!Number.isInteger(seconds) || seconds < 1) {
      throw ApplicationFailure.nonRetryable('seconds: expected a whole number of seconds, at least 1', 'InvalidGraceExtension');
    }
    if (endNow || completedAt) {
      throw ApplicationFailure.nonRetryable(`The grace period of rotation ${input.rotation} has already ended`, 'GraceEnded');
    }
    const limit = rotatedAtMs + MAX_GRACE_SECONDS * 1000;
    if (graceEndsAtMs + seconds * 1000 > limit) {
      throw ApplicationFailure.nonRetryable(
        `seconds: the grace period may not end more than 7 days after the rotation (${new Date(limit).toISOString()}); ` +
          `at most ${Math.floor((limit - graceEndsAtMs) / 1000)} more seconds`,
        'GraceTooLong',
      );
    }
  };

  setHandler(rotationStateQuery, state);
  setHandler(endGraceSignal, () => {
    endNow = true;
  });
  setHandler(endGraceNowUpdate, async () => {
    endNow = true;
    await condition(() => completedAt !== null);
    return state();
  });
  setHandler(
    extendGraceUpdate,
    async (seconds) => {
      // Checked again: another extension may have been accepted since the validator ran.
      checkExtension(seconds);
      // The timer follows the new end at once; the database row follows right after.
      graceEndsAtMs += seconds * 1000;
      extensions++;
      await setRetiredSecretsExpiry({ ...ids, expiresAt: new Date(graceEndsAtMs).toISOString() });
      return state();
    },
    { validator: checkExtension },
  );

  while (!endNow) {
    const remaining = graceEndsAtMs - Date.now();
    if (remaining <= 0) break;
    const seen = extensions;
    await condition(() => endNow || extensions !== seen, remaining);
  }
  // From here on the grace period is over: an extension arriving now is refused, not lost.
  endNow = true;
  const { revokedAt } = await revokeRetiredSecrets(ids);
  completedAt = revokedAt;
  await condition(allHandlersFinished);
  return state();
}
