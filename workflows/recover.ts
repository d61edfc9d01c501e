import { continueAsNew, defineQuery, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { countRecoverable, replayRecoverablePage } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export interface RecoverInput {
  workspaceId: string;
  endpointId: string;
  /** ISO timestamps: deliveries created in [since, until) are replayed. */
  since: string;
  until: string;
  /** Where an earlier run of this recovery stopped when it continued as new. */
  resume?: RecoverResume;
  /** Deliveries per page (default 100) and pages per run (default 50): tests make them small. */
  pageSize?: number;
  pagesPerRun?: number;
}

export interface RecoverResume {
  total: number;
  replayed: number;
  /** Absent in runs continued by older code. */
  retriedNow?: number;
  after: { createdAt: string; id: string };
}

export interface RecoveryProgress {
  total: number;
  replayed: number;
  /** Waiting deliveries made to retry now (absent from results of older runs). */
  retriedNow?: number;
  done: boolean;
}

export const recoveryProgressQuery = defineQuery<RecoveryProgress>('progress');

const PAGE_SIZE = 100;
/** A run's history grows by a few events per page: a long recovery continues as new well before it is large. */
const PAGES_PER_RUN = 50;
/** Marks runs that may continue as new; runs started before it replay the loop as it was. */
const CONTINUE_AS_NEW_PATCH = 'recover-continue-as-new';

/**
 * `recover:<endpointId>:<n>`: replays an endpoint's failed deliveries since a date, page by page
 * (and signals those waiting out a backoff to retry now).
 * After `pagesPerRun` pages (or when Temporal suggests it) it continues as new under the same id,
 * carrying its cursor and counts, so the progress read through the query stays that of the whole
 * recovery.
 */
export async function recoverWorkflow(input: RecoverInput): Promise<RecoveryProgress> {
  const progress: RecoveryProgress = {
    total: input.resume?.total ?? 0,
    replayed: input.resume?.replayed ?? 0,
    retriedNow: input.resume?.retriedNow ?? 0,
    done: false,
  };
  setHandler(recoveryProgressQuery, () => progress);
  const mayContinueAsNew = patched(CONTINUE_AS_NEW_PATCH);
  if (!input.resume) progress.total = await countRecoverable(recoverScope(input));
  let after = input.resume?.after;
  for (let pages = 1; ; pages++) {
    const page = await replayRecoverablePage({ ...recoverScope(input), after, limit: input.pageSize ?? PAGE_SIZE });
    progress.replayed += page.replayed;
    progress.retriedNow = (progress.retriedNow ?? 0) + (page.retriedNow ?? 0);
    if (!page.next) break;
    after = page.next;
    if (mayContinueAsNew && (pages >= (input.pagesPerRun ?? PAGES_PER_RUN) || workflowInfo().continueAsNewSuggested)) {
      await continueAsNew<typeof recoverWorkflow>({ ...input, resume: { total: progress.total, replayed: progress.replayed, retriedNow: progress.retriedNow, after } });
    }
  }
  progress.done = true;
  return progress;
}

/** What the activities are told: the recovery itself, not this run's paging bookkeeping. */
function recoverScope(input: RecoverInput): RecoverInput {
  return { workspaceId: input.workspaceId, endpointId: input.endpointId, since: input.since, until: input.until };
}
