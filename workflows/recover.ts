import { defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
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
}

export interface RecoveryProgress {
  total: number;
  replayed: number;
  done: boolean;
}

export const recoveryProgressQuery = defineQuery<RecoveryProgress>('progress');

/** `recover:<endpointId>:<n>`: replays an endpoint's failed deliveries since a date, page by page. */
export async function recoverWorkflow(input: RecoverInput): Promise<RecoveryProgress> {
  const progress: RecoveryProgress = { total: 0, replayed: 0, done: false };
  setHandler(recoveryProgressQuery, () => progress);
  progress.total = await countRecoverable(input);
  let after: { createdAt: string; id: string } | undefined;
  for (;;) {
    const page = await replayRecoverablePage({ ...input, after, limit: 100 });
    progress.replayed += page.replayed;
    if (!page.next) break;
    after = page.next;
  }
  progress.done = true;
  return progress;
}
