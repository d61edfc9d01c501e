import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/** The provider's charts: calls and errors per day across every workspace, and the top customers. */
let stack: Stack;
type Ws = { workspaceId: string; secret: string; keyId: string };
let busy: Ws;
let failing: Ws;
const DAY = 86_400_000;

function rec(workspaceId: string, at: Date, status = 200) {
  stack.deps.usage.record({ workspaceId, keyId: 'k', source: 'service', method: 'GET', route: '/r', status, latencyMs: 5, at });
}

beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
  busy = await stack.workspace(['admin']);
  failing = await stack.workspace(['admin']);
  const today = new Date();
  const twoDaysAgo = new Date(Date.now() - 2 * DAY);
  for (let i = 0; i < 7; i++) rec(busy.workspaceId, today);
  for (let i = 0; i < 3; i++) rec(busy.workspaceId, twoDaysAgo, i === 0 ? 404 : 200);
  for (let i = 0; i < 4; i++) rec(failing.workspaceId, today, 500);
  // Outside a 3-day range.
  rec(failing.workspaceId, new Date(Date.now() - 5 * DAY), 500);
  await stack.deps.usage.flush();
});
afterAll(() => stack.close());

describe('usage.provider', () => {
  it('sums every workspace per UTC day and ranks the top workspaces by calls and by errors', async () => {
    const res = await stack.rest('GET', '/usage/provider?days=3');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const day = (offset: number) => new Date(Date.now() - offset * DAY).toISOString().slice(0, 10);
    expect(res.body.daily.map((d: { date: string }) => d.date)).toEqual([day(2), day(1), day(0)]);
    const byDate = Object.fromEntries(res.body.daily.map((d: { date: string; calls: number; errors: number }) => [d.date, d]));
    expect(byDate[day(2)]).toEqual({ date: day(2), calls: 3, errors: 1 });
    expect(byDate[day(1)]).toEqual({ date: day(1), calls: 0, errors: 0 });
    // Today also holds the operator's own calls to Gatehouse: at least the customers' 11.
    expect(byDate[day(0)].calls).toBeGreaterThanOrEqual(11);
    expect(byDate[day(0)].errors).toBeGreaterThanOrEqual(4);

    const row = (list: { workspace_id: string }[], ws: Ws) => list.find((r) => r.workspace_id === ws.workspaceId);
    expect(row(res.body.top_by_calls, busy)).toEqual({ workspace_id: busy.workspaceId, name: busy.workspaceId, calls: 10, errors: 1 });
    expect(row(res.body.top_by_calls, failing)).toEqual({ workspace_id: failing.workspaceId, name: failing.workspaceId, calls: 4, errors: 4 });
    const calls = res.body.top_by_calls.map((r: { calls: number }) => r.calls);
    expect(calls).toEqual([...calls].sort((a, b) => b - a));
    expect(res.body.top_by_errors[0]).toMatchObject({ workspace_id: failing.workspaceId, errors: 4 });

    const caller = await stack.caller();
    const trpc = await caller.usage.provider({ days: 3 });
    expect(trpc.topByErrors[0]).toMatchObject({ workspaceId: failing.workspaceId, errors: 4 });
    expect(trpc.daily).toHaveLength(3);
  });

  it('defaults to 30 days and refuses a range outside 1-366 days, naming days', async () => {
    expect((await stack.rest('GET', '/usage/provider')).body.daily).toHaveLength(30);
    for (const days of ['0', '367', 'x']) {
      const res = await stack.rest('GET', `/usage/provider?days=${days}`);
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe('days');
    }
  });

  it("is the operator's: a workspace admin gets 403 over REST and tRPC", async () => {
    expect((await stack.rest('GET', '/usage/provider', { key: busy.secret })).status).toBe(403);
    await expect((await stack.caller(busy.secret)).usage.provider({})).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
