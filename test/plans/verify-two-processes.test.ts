import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, stopApi, type ApiProcess } from '../api-process.js';
import { startStack, type Stack } from '../harness.js';
import { insertKey } from '../verify/keys.js';
import { assignPlan, hammer, insertPlan, setPlanQuota, until, verifyAt } from './verify-helpers.js';

let stack: Stack;
let a: ApiProcess;
let b: ApiProcess;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  [a, b] = await Promise.all([startApi(stack), startApi(stack)]);
}, 180_000);
afterAll(async () => {
  await Promise.all([stopApi(a), stopApi(b)]);
  await stack?.close();
});

describe('two API processes enforcing one plan', () => {
  it('admit at most 1 % over the monthly quota between them, with two keys', async () => {
    const ws = await stack.workspace(['admin']);
    await assignPlan(stack, ws.workspaceId, await insertPlan(stack, { monthlyCalls: 400 }));
    const k1 = await insertKey(stack, { workspaceId: ws.workspaceId });
    const k2 = await insertKey(stack, { workspaceId: ws.workspaceId });
    const answers = (
      await Promise.all([
        hammer(a.url, ws.secret, k1.secret, 150, 20),
        hammer(a.url, ws.secret, k2.secret, 150, 20),
        hammer(b.url, ws.secret, k1.secret, 150, 20),
        hammer(b.url, ws.secret, k2.secret, 150, 20),
      ])
    ).flat();
    const valid = answers.filter((r) => r.code === 'VALID').length;
    expect(valid).toBeGreaterThanOrEqual(400);
    expect(valid).toBeLessThanOrEqual(404);
    expect(answers.filter((r) => r.code === 'USAGE_EXCEEDED')).toHaveLength(600 - valid);
    const [row] = await stack.orm.em.fork().execute<{ calls: string }[]>(`select calls from workspace_quota where workspace_id = ?`, [ws.workspaceId]);
    expect(Number(row!.calls)).toBe(valid);
  });

  it('share a workspace rate limit between them, alone or taken with the quota in one statement', async () => {
    for (const monthlyCalls of [null, 250]) {
      await sharedLimit(monthlyCalls);
    }
  });

  async function sharedLimit(monthlyCalls: number | null) {
    const ws = await stack.workspace(['admin']);
    await assignPlan(stack, ws.workspaceId, await insertPlan(stack, { workspaceRateLimits: [{ limit: 200, windowSeconds: 3600 }], monthlyCalls }));
    const k1 = await insertKey(stack, { workspaceId: ws.workspaceId });
    const k2 = await insertKey(stack, { workspaceId: ws.workspaceId });
    const answers = (await Promise.all([hammer(a.url, ws.secret, k1.secret, 150, 20), hammer(b.url, ws.secret, k2.secret, 150, 20)])).flat();
    const valid = answers.filter((r) => r.code === 'VALID').length;
    expect(valid).toBeGreaterThanOrEqual(200);
    expect(valid).toBeLessThanOrEqual(202);
    for (const r of answers.filter((x) => x.code !== 'VALID')) {
      expect(r.code).toBe('RATE_LIMITED');
      expect(r.ratelimit).toMatchObject({ scope: 'workspace', name: 'workspace:3600s', remaining: 0 });
    }
    if (monthlyCalls !== null) {
      const [row] = await stack.orm.em.fork().execute<{ calls: string }[]>(`select calls from workspace_quota where workspace_id = ?`, [ws.workspaceId]);
      expect(Number(row!.calls)).toBe(valid);
    }
  }

  it('see a plan edit and an override at once, though both had the limits cached', async () => {
    const ws = await stack.workspace(['admin']);
    const planId = await insertPlan(stack, { monthlyCalls: 1000 });
    await assignPlan(stack, ws.workspaceId, planId);
    const key = await insertKey(stack, { workspaceId: ws.workspaceId });
    for (const api of [a, b]) for (let i = 0; i < 3; i++) expect((await verifyAt(api.url, ws.secret, { key: key.secret })).code).toBe('VALID');

    // The plan's quota lowered below what was used: every process refuses from the next call on.
    await setPlanQuota(stack, planId, 6);
    for (const api of [a, b]) {
      await until(async () => (await verifyAt(api.url, ws.secret, { key: key.secret })).code === 'USAGE_EXCEEDED', `the plan edit in ${api.url}`, 3_000);
    }
    // An override lifts it for this customer only.
    await assignPlan(stack, ws.workspaceId, planId, { monthlyCalls: null });
    for (const api of [a, b]) {
      await until(async () => (await verifyAt(api.url, ws.secret, { key: key.secret })).quota === null, `the override in ${api.url}`, 3_000);
    }
    // Back on the plan without overrides: refused again, in both.
    await assignPlan(stack, ws.workspaceId, planId);
    for (const api of [a, b]) {
      await until(async () => (await verifyAt(api.url, ws.secret, { key: key.secret })).code === 'USAGE_EXCEEDED', `the plan again in ${api.url}`, 3_000);
    }
  });
});
