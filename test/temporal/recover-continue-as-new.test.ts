import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoveryWorkflowId } from '../../temporal/workflow-ids.js';
import { recoverWorkflow, recoveryProgressQuery, type RecoverInput } from '../../workflows/recover.js';
import { startStack, type Stack } from '../harness.js';
import { eventually, Receiver } from '../webhooks/receiver.js';

let stack: Stack;
let rx: Receiver;
beforeAll(async () => {
  stack = await startStack({ env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,50ms' } });
  rx = await new Receiver().start();
});
afterAll(async () => {
  await rx.close();
  await stack.close();
});

const FAILED = 9;

describe('recover workflow', () => {
  it('continues as new after a bounded number of pages and still reports the whole recovery', async () => {
    const { workspaceId, secret: key } = await stack.workspace(['admin']);
    rx.script('/long', { status: 503 });
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/long`, event_types: ['export.completed'] } })).body;
    const since = new Date(Date.now() - 60_000).toISOString();
    for (let i = 0; i < FAILED; i++) await stack.rest('POST', '/events', { key, body: { type: 'export.completed', payload: { i } } });
    await eventually(
      async () => (await stack.rest('GET', `/webhooks/${ep.id}/deliveries?status=failed&limit=100`, { key })).body.deliveries as unknown[],
      (ds) => ds.length === FAILED,
    );
    rx.script('/long', { status: 200 });

    // As startRecovery starts it, with pages of 2 and 2 pages a run: 9 deliveries take 3 runs.
    const workflowId = recoveryWorkflowId(ep.id, 1);
    const input: RecoverInput = { workspaceId, endpointId: ep.id, since, until: new Date().toISOString(), pageSize: 2, pagesPerRun: 2 };
    const first = await stack.temporal.client.workflow.start(recoverWorkflow, {
      workflowId,
      taskQueue: stack.temporal.taskQueue,
      args: [input],
      memo: { since },
    });
    const handle = stack.temporal.client.workflow.getHandle<typeof recoverWorkflow>(workflowId);
    expect(await handle.result()).toEqual({ total: FAILED, replayed: FAILED, retriedNow: 0, done: true });

    // The chain of runs: each but the last continued as new.
    const statuses: string[] = [];
    let runId: string | undefined = first.firstExecutionRunId;
    while (runId) {
      const run: WorkflowHandle = stack.temporal.client.workflow.getHandle(workflowId, runId);
      statuses.push((await run.describe()).status.name);
      const last = (await run.fetchHistory()).events?.at(-1);
      runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    expect(statuses).toEqual(['CONTINUED_AS_NEW', 'CONTINUED_AS_NEW', 'COMPLETED']);

    // What the last run answers is the whole recovery's progress, not its own share.
    expect(await handle.query(recoveryProgressQuery)).toEqual({ total: FAILED, replayed: FAILED, retriedNow: 0, done: true });
    const read = await stack.rest('GET', `/webhooks/${ep.id}/recover/1`, { key });
    expect(read.body).toMatchObject({ id: 1, status: 'completed', total: FAILED, replayed: FAILED });
    expect(Date.parse(read.body.since)).toBe(Date.parse(since));
    const ds = await eventually(
      async () => (await stack.rest('GET', `/webhooks/${ep.id}/deliveries?status=succeeded&limit=100`, { key })).body.deliveries as unknown[],
      (d) => d.length === FAILED,
    );
    expect(ds).toHaveLength(FAILED);
  });
});
