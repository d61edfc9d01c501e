import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

describe('system.selfTest: tRPC → Temporal workflow → activity → PostgreSQL', () => {
  it('counts the caller workspace keys through a workflow the operator can find', async () => {
    const { workspaceId, secret } = await stack.workspace(['admin']);
    const em = stack.orm.em.fork();
    await em.execute(
      `insert into api_key (client_id, pk, workspace_id, id, permissions, rate_limits, ip_allowlist, metadata, start, created_at, updated_at, revoked_at)
       values ('ci_' || replace(gen_random_uuid()::text, '-', ''), 'kid_revoked', ?, 'old', '[]', '[]', '[]', '{}', 'x', now(), now(), now())`,
      [workspaceId],
    );
    const caller = await stack.caller(secret);
    const result = await caller.system.selfTest();
    expect(result).toMatchObject({ workspaceId, keys: 2, activeKeys: 1 });
    expect(result.workflowId).toMatch(new RegExp(`^selftest:${workspaceId}_`));

    const described = await stack.temporal.client.workflow.getHandle(result.workflowId).describe();
    expect(described.status.name).toBe('COMPLETED');
    expect(described.taskQueue).toBe(stack.config.TEMPORAL_TASK_QUEUE);
  });

  it('works over HTTP as a typed client would call it', async () => {
    const res = await stack.rest('POST', '/trpc/system.selfTest', { body: {} });
    expect(res.status).toBe(200);
    expect(res.body.result.data).toMatchObject({ workspaceId: 'default', keys: 1, activeKeys: 1 });
  });

  it('refuses a caller without a key, and one with a wrong key', async () => {
    expect((await stack.rest('POST', '/trpc/system.selfTest', { key: null, body: {} })).status).toBe(401);
    expect((await stack.rest('POST', '/trpc/system.selfTest', { key: 'gate_sk_live_nope', body: {} })).status).toBe(401);
  });
});
