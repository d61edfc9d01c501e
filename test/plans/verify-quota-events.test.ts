import type { EntityManager } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuotaWatcher } from '../../core/plans/quota-warnings.js';
import { startStack, type Stack } from '../harness.js';
import { insertKey } from '../verify/keys.js';
import { assignPlan, insertPlan, nextMonth, verifyAt } from './verify-helpers.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

interface Row {
  type: string;
  payload: Record<string, unknown>;
}

async function quotaEvents(workspaceId: string): Promise<Row[]> {
  return stack.orm.em
    .fork()
    .execute<Row[]>(`select type, payload from event where workspace_id = ? and type like 'usage.quota.%' order by created_at, type`, [workspaceId]);
}

describe('monthly quota warnings', () => {
  it('raise usage.quota.approaching at 80 % and usage.quota.exceeded at 100 %, once each per workspace and month', async () => {
    const ws = await stack.workspace(['admin']);
    const planId = await insertPlan(stack, { monthlyCalls: 10 });
    await assignPlan(stack, ws.workspaceId, planId);
    const key = await insertKey(stack, { workspaceId: ws.workspaceId });
    const verify = async (n: number) => {
      const codes = [];
      for (let i = 0; i < n; i++) codes.push((await verifyAt(stack.url, ws.secret, { key: key.secret })).code);
      await stack.deps.usage.flush();
      return codes;
    };

    expect(await verify(7)).toEqual(Array(7).fill('VALID'));
    expect(await quotaEvents(ws.workspaceId)).toEqual([]);

    await verify(1);
    const month = new Date().toISOString().slice(0, 7);
    const reset = new Date(nextMonth()).toISOString();
    expect(await quotaEvents(ws.workspaceId)).toEqual([
      {
        type: 'usage.quota.approaching',
        payload: { workspace_id: ws.workspaceId, plan_id: planId, month, limit: 10, used: 8, remaining: 2, reset_at: reset, threshold: 80 },
      },
    ]);

    expect(await verify(4)).toEqual(['VALID', 'VALID', 'USAGE_EXCEEDED', 'USAGE_EXCEEDED']);
    const events = await quotaEvents(ws.workspaceId);
    expect(events.map((e) => e.type)).toEqual(['usage.quota.approaching', 'usage.quota.exceeded']);
    expect(events[1]!.payload).toEqual({ workspace_id: ws.workspaceId, plan_id: planId, month, limit: 10, used: 10, remaining: 0, reset_at: reset, threshold: 100 });

    // More refusals, and a second process seeing the same crossings: nothing new.
    await verify(3);
    const other = new QuotaWatcher({ em: () => stack.orm.em.fork() as EntityManager, temporal: stack.temporal, log: stack.deps.log });
    other.observe(ws.workspaceId, { name: 'monthly_calls', limit: 10, remaining: 0, reset: nextMonth() });
    expect(other.waiting).toBe(2);
    expect(await other.raisePending()).toBe(0);
    expect((await quotaEvents(ws.workspaceId)).map((e) => e.type)).toEqual(['usage.quota.approaching', 'usage.quota.exceeded']);
    const [row] = await stack.orm.em
      .fork()
      .execute<{ approaching_at: Date | null; exceeded_at: Date | null }[]>(`select approaching_at, exceeded_at from workspace_quota where workspace_id = ?`, [ws.workspaceId]);
    expect(row!.approaching_at).not.toBeNull();
    expect(row!.exceeded_at).not.toBeNull();
  });

  it("warn of a plan's per-key ceiling by its name and window, on a key without limits of its own", async () => {
    const ws = await stack.workspace(['admin']);
    await assignPlan(stack, ws.workspaceId, await insertPlan(stack, { keyRateLimits: [{ limit: 5, windowSeconds: 3600 }] }));
    const key = await insertKey(stack, { workspaceId: ws.workspaceId });
    for (let i = 0; i < 6; i++) await verifyAt(stack.url, ws.secret, { key: key.secret });
    await stack.deps.usage.flush();
    const rows = await stack.orm.em
      .fork()
      .execute<Row[]>(`select type, payload from event where workspace_id = ? and type like 'usage.rate_limit.%' order by type`, [ws.workspaceId]);
    expect(rows.map((r) => [r.type, r.payload['limit_name'], r.payload['window_seconds'], r.payload['limit']])).toEqual([
      ['usage.rate_limit.approaching', 'plan:3600s', 3600, 5],
      ['usage.rate_limit.exceeded', 'plan:3600s', 3600, 5],
    ]);
  });

  it('raise both at once when a lowered quota is already used up, and nothing for the credit grant or a workspace without a quota', async () => {
    const ws = await stack.workspace(['admin']);
    const key = await insertKey(stack, { workspaceId: ws.workspaceId });
    const planId = await insertPlan(stack, { monthlyCalls: 100, monthlyCredits: 1000 });
    await assignPlan(stack, ws.workspaceId, planId);
    for (let i = 0; i < 3; i++) expect((await verifyAt(stack.url, ws.secret, { key: key.secret, cost: 300 })).code).toBe('VALID');
    await stack.deps.usage.flush();
    expect(await quotaEvents(ws.workspaceId)).toEqual([]);

    await assignPlan(stack, ws.workspaceId, planId, { monthlyCalls: 3 });
    expect((await verifyAt(stack.url, ws.secret, { key: key.secret, cost: 1 })).code).toBe('USAGE_EXCEEDED');
    await stack.deps.usage.flush();
    const events = await quotaEvents(ws.workspaceId);
    expect(events.map((e) => [e.type, e.payload['used'], e.payload['limit']])).toEqual([
      ['usage.quota.approaching', 3, 3],
      ['usage.quota.exceeded', 3, 3],
    ]);
  });
});
