import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { insertKey, type TestKey } from '../verify/keys.js';
import { hammerVerifier, ownVerifier } from '../verify/own-verifier.js';
import { assignPlan, insertPlan, until, type TestPlan } from './verify-helpers.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
}, 180_000);
afterAll(() => stack?.close());

async function keyOnPlan(plan: TestPlan): Promise<TestKey> {
  const ws = await stack.workspace(['admin']);
  await assignPlan(stack, ws.workspaceId, await insertPlan(stack, plan));
  return insertKey(stack, { workspaceId: ws.workspaceId });
}

async function month(workspaceId: string): Promise<{ calls: number; credits: number }> {
  const [row] = await stack.orm.em
    .fork()
    .execute<{ calls: string; credits: string }[]>(`select coalesce(sum(calls), 0) as calls, coalesce(sum(credits), 0) as credits from workspace_quota where workspace_id = ?`, [
      workspaceId,
    ]);
  return { calls: Number(row!.calls), credits: Number(row!.credits) };
}

async function sharedCount(workspaceId: string): Promise<number> {
  const [row] = await stack.orm.em
    .fork()
    .execute<{ count: number }[]>(`select coalesce(sum(count), 0)::int as count from workspace_rate_counter where workspace_id = ?`, [workspaceId]);
  return row!.count;
}

describe('a busy workspace far from its monthly quota', () => {
  it('is charged from memory between statements, exactly in one process, quota and shared rate limit alike', async () => {
    const key = await keyOnPlan({ monthlyCalls: 1_000_000, workspaceRateLimits: [{ limit: 1_000_000, windowSeconds: 3600 }] });
    const verifier = await ownVerifier(stack);
    try {
      await hammerVerifier(verifier, key, 1, 1); // the key and the plan cached, the month's row made
      const before = verifier.queries;
      const results = await hammerVerifier(verifier, key, 3_000, 30);
      expect(results.every((r) => r.code === 'VALID')).toBe(true);
      // Exact in one process: every answer a different remaining, none skipped, in both counters.
      const quota = results.map((r) => r.quota!.remaining).sort((a, b) => b - a);
      expect(quota).toEqual(Array.from({ length: 3_000 }, (_, i) => 999_998 - i));
      const shared = results.map((r) => r.ratelimit!.remaining).sort((a, b) => b - a);
      expect(shared).toEqual(Array.from({ length: 3_000 }, (_, i) => 999_998 - i));
      // Batching alone needs a statement per 30 (the concurrency): at least 100. Leases need far fewer.
      expect(verifier.queries - before).toBeLessThan(50);
      const held = verifier.quota.leased(key.workspaceId);
      expect(held).toBeLessThanOrEqual(1_000);
      expect(await month(key.workspaceId)).toEqual({ calls: 3_001 + held, credits: 3_001 + held });
    } finally {
      await verifier.stop();
    }
    // Stopping gave the unused calls, credits and rate-limit room back.
    expect(await month(key.workspaceId)).toEqual({ calls: 3_001, credits: 3_001 });
    expect(await sharedCount(key.workspaceId)).toBe(3_001);
  });

  it('charges other costs from the lease while it holds their credits, every credit counted', async () => {
    const key = await keyOnPlan({ monthlyCalls: 1_000_000, monthlyCredits: 10_000_000 });
    const verifier = await ownVerifier(stack);
    try {
      await hammerVerifier(verifier, key, 1, 1);
      const before = verifier.queries;
      const results = await hammerVerifier(verifier, key, 2_000, 20, (i) => (i % 10 === 0 ? 7 : 1));
      expect(results.every((r) => r.code === 'VALID')).toBe(true);
      // Batching alone needs a statement per 20: at least 100. A cost of 7 comes out of the lease too.
      expect(verifier.queries - before).toBeLessThan(60);
      expect(verifier.quota.leased(key.workspaceId)).toBeGreaterThan(0);
    } finally {
      await verifier.stop();
    }
    expect(await month(key.workspaceId)).toEqual({ calls: 2_001, credits: 1_801 + 200 * 7 });
  });

  it('gives unused calls back within a couple of seconds while the process keeps running', async () => {
    const key = await keyOnPlan({ monthlyCalls: 1_000_000 });
    const verifier = await ownVerifier(stack);
    try {
      await hammerVerifier(verifier, key, 2_000, 20);
      expect(verifier.quota.leased(key.workspaceId)).toBeGreaterThan(0);
      await until(() => verifier.quota.leased(key.workspaceId) === 0, 'the unused lease given back', 10_000);
      expect(await month(key.workspaceId)).toEqual({ calls: 2_000, credits: 2_000 });
    } finally {
      await verifier.stop();
    }
  });
});

describe('near its monthly quota', () => {
  it('two processes never pass the quota between them, and hand out all of it', async () => {
    const key = await keyOnPlan({ monthlyCalls: 2_000, workspaceRateLimits: [{ limit: 1_000_000, windowSeconds: 3600 }] });
    const [a, b] = await Promise.all([ownVerifier(stack), ownVerifier(stack)]);
    let valid: number;
    try {
      const [onA, onB] = await Promise.all([hammerVerifier(a, key, 1_500, 20), hammerVerifier(b, key, 1_500, 20)]);
      const all = [...onA, ...onB];
      valid = all.filter((r) => r.code === 'VALID').length;
      expect(onA.some((r) => r.code === 'VALID') && onB.some((r) => r.code === 'VALID')).toBe(true);
      expect(all.filter((r) => r.code !== 'VALID').every((r) => r.code === 'USAGE_EXCEEDED')).toBe(true);
      // Never over; under only by what one process leased far from the quota and had no request left for: ≤ 0.1 % (2).
      expect(valid).toBeLessThanOrEqual(2_000);
      expect(valid).toBeGreaterThanOrEqual(1_998);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(await month(key.workspaceId)).toEqual({ calls: valid, credits: valid });
  });
});
