import { randomBytes } from 'node:crypto';
import type { PlanRateLimit } from '../../db/entities/plan.js';
import type { PlanOverrides } from '../../db/entities/workspace.js';
import { notifyPlanChanged, notifyWorkspaceLimitsChanged } from '../../core/plans/notify.js';
import type { Stack } from '../harness.js';

export interface TestPlan {
  keyRateLimits?: PlanRateLimit[];
  workspaceRateLimits?: PlanRateLimit[];
  monthlyCalls?: number | null;
  monthlyCredits?: number | null;
}

/** A plan written straight into the database (these tests depend on the schema, not on plans.create). */
export async function insertPlan(stack: Stack, plan: TestPlan): Promise<string> {
  const id = `plan-${randomBytes(4).toString('hex')}`;
  await stack.orm.em.fork().execute(
    `insert into plan (id, name, key_rate_limits, workspace_rate_limits, monthly_calls, monthly_credits, is_default, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?, false, now(), now())`,
    [id, id, JSON.stringify(plan.keyRateLimits ?? []), JSON.stringify(plan.workspaceRateLimits ?? []), plan.monthlyCalls ?? null, plan.monthlyCredits ?? null],
  );
  return id;
}

/**
 * Assigns a plan (and overrides) as the workspace service does: the update and the notification in
 * one transaction. Returns once the stack's own verifier has heard it (NOTIFY arrives on another
 * connection, a moment after the commit).
 */
export async function assignPlan(stack: Stack, workspaceId: string, planId: string | null, overrides: PlanOverrides = {}): Promise<void> {
  const cached = stack.deps.verifier.limits.peek(workspaceId);
  await stack.orm.em.fork().transactional(async (tx) => {
    await tx.execute(`update workspace set plan_id = ?, overrides = ? where id = ?`, [planId, JSON.stringify(overrides), workspaceId]);
    await notifyWorkspaceLimitsChanged(tx as never, workspaceId);
  });
  if (cached) await until(() => stack.deps.verifier.limits.peek(workspaceId) !== cached, 'the limits notification');
}

/** Waits for `done()` with a deadline: the condition, not a sleep. */
export async function until(done: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Edits a plan's monthly call quota as plans.update does, notifying every process. */
export async function setPlanQuota(stack: Stack, planId: string, monthlyCalls: number | null): Promise<void> {
  await stack.orm.em.fork().transactional(async (tx) => {
    await tx.execute(`update plan set monthly_calls = ?, updated_at = now() where id = ?`, [monthlyCalls, planId]);
    await notifyPlanChanged(tx as never, planId);
  });
}

export interface VerifyAnswer {
  valid: boolean;
  code: string;
  key_id: string | null;
  ratelimit: { scope: string; name: string; limit: number; remaining: number; reset: number } | null;
  quota: { scope: string; name: string; limit: number; remaining: number; reset: number } | null;
  credits: number | null;
}

/** POST /v1/keys/verify on `url` as `caller`. */
export async function verifyAt(url: string, caller: string, body: Record<string, unknown>): Promise<VerifyAnswer> {
  const res = await fetch(`${url}/v1/keys/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': caller },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`verify answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as VerifyAnswer;
}

/** `total` verifications of `secret`, `concurrency` at a time; the answers in the order they came. */
export async function hammer(url: string, caller: string, secret: string, total: number, concurrency: number): Promise<VerifyAnswer[]> {
  const answers: VerifyAnswer[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        answers.push(await verifyAt(url, caller, { key: secret }));
      }
    }),
  );
  return answers;
}

/** Start of next UTC month, epoch ms: when a monthly allowance resets. */
export function nextMonth(now = new Date()): number {
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
}
