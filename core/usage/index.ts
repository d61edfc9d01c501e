import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '../log.js';
import type { Orm } from '../../db/orm.js';
import type { TemporalHandle } from '../../temporal/client.js';
import { LimitWatcher, type LimitObservation } from './limits.js';
import { QuotaWatcher, type QuotaSeen } from '../plans/quota-warnings.js';
import { UsageRecorder, type RecorderOptions, type UsageInput } from './recorder.js';

export type { UsageInput, LimitObservation };

/** The parts of core/keys/verify.ts's VerifyResult usage needs. */
export interface VerificationOutcome {
  code: string;
  keyId: string | null;
  /** `scope: 'workspace'` is a limit shared by the workspace's keys, not one of the key's. */
  ratelimit: { scope?: 'key' | 'workspace'; name?: string; limit: number; remaining: number; reset: number } | null;
  credits: number | null;
  /** The workspace's monthly allowance, when its plan sets one. */
  quota?: QuotaSeen | null;
}

/** The status a protected API answers for each verification code (what the Express middleware sends). */
export function statusForCode(code: string): number {
  switch (code) {
    case 'VALID':
      return 200;
    case 'FORBIDDEN':
    case 'INSUFFICIENT_PERMISSIONS':
      return 403;
    case 'RATE_LIMITED':
    case 'USAGE_EXCEEDED':
      return 429;
    default:
      return 401;
  }
}

/** Method and route of verification records: the call verified is the customer's, its route unknown here. */
export const VERIFICATION_METHOD = 'VERIFY';
export const VERIFICATION_ROUTE = '/v1/keys/verify';

/** The per-process usage pipeline an API process holds in ServerDeps: recorder + limit watcher. */
export interface Usage {
  recorder: UsageRecorder;
  limits: LimitWatcher;
  /** The workspace's monthly quota warnings (80 %, 100 %). */
  quotas: QuotaWatcher;
  /** Buffers one record; never waits, never throws. */
  record(input: UsageInput): void;
  /** Called by verification with the key's limits after the call was counted. */
  observeLimits(o: LimitObservation): void;
  /**
   * Records a verification (status derived from its code) and watches the key's limits. `route`:
   * where it happened when not `/v1/keys/verify` (`/oauth/token`: issuing a token verifies its key).
   */
  verification(workspaceId: string, result: VerificationOutcome, opts: { latencyMs: number; counted: boolean; route?: string }): void;
  /** Writes what is buffered and raises pending limit warnings. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface UsageDeps {
  databaseUrl: string;
  orm: Orm;
  temporal: TemporalHandle;
  log: Logger;
  options?: Omit<RecorderOptions, 'databaseUrl' | 'log' | 'afterFlush'>;
}

export function createUsage(deps: UsageDeps): Usage {
  const limits = new LimitWatcher({ em: () => deps.orm.em.fork() as EntityManager, temporal: deps.temporal, log: deps.log });
  const quotas = new QuotaWatcher({ em: () => deps.orm.em.fork() as EntityManager, temporal: deps.temporal, log: deps.log });
  const recorder = new UsageRecorder({
    ...deps.options,
    databaseUrl: deps.databaseUrl,
    log: deps.log,
    afterFlush: async () => {
      if (limits.waiting > 0) await limits.raisePending();
      if (quotas.waiting > 0) await quotas.raisePending();
    },
  });
  return {
    recorder,
    limits,
    quotas,
    record: (input) => {
      recorder.record(input);
    },
    observeLimits: (o) => {
      try {
        limits.observe(o);
      } catch (err) {
        deps.log.warn({ err }, 'limit observation failed');
      }
    },
    verification: (workspaceId, r, opts) => {
      recorder.record({
        workspaceId,
        keyId: r.keyId,
        source: 'verification',
        method: VERIFICATION_METHOD,
        route: opts.route ?? VERIFICATION_ROUTE,
        status: statusForCode(r.code),
        latencyMs: opts.latencyMs,
        code: r.code,
        counted: opts.counted,
      });
      // A workspace-wide rate limit is not the key's: its warnings are the key's own limits only.
      const keyRatelimit = r.ratelimit?.scope === 'workspace' ? null : r.ratelimit;
      if (r.keyId && (keyRatelimit || r.credits !== null)) {
        try {
          limits.observe({ workspaceId, keyId: r.keyId, ratelimit: keyRatelimit, credits: r.credits });
        } catch (err) {
          deps.log.warn({ err }, 'limit observation failed');
        }
      }
      if (r.quota) quotas.observe(workspaceId, r.quota);
    },
    flush: () => recorder.flush(),
    close: () => recorder.close(),
  };
}
