import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import * as workflows from '../../workflows/index.js';
import { loadFixtures, SECRET_PATTERN, textsOf, workflowTypeOf, type Fixture } from './fixtures.js';

// Recorded histories (test/replay/capture.ts) replayed against today's workflow code: a change that
// would break runs already in flight (a rotation in its grace period, a delivery between retries)
// fails here instead of in production. Such a change goes behind `patched()`, and its new paths
// get histories of their own beside the old ones.

const fixtures = loadFixtures();
const ALTERED_WORKFLOWS = fileURLToPath(new URL('./altered-workflows.ts', import.meta.url));

beforeAll(() => {
  try {
    // A replay that goes wrong on purpose (below) is logged at WARN by the SDK's core.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
  } catch {
    // already installed in this fork
  }
});

async function replay(options: ReplayWorkerOptions, list: Fixture[]): Promise<Map<string, Error | undefined>> {
  const results = new Map<string, Error | undefined>();
  for await (const r of Worker.runReplayHistories(options, list.map((f) => ({ workflowId: f.name, history: f.history })))) {
    results.set(r.workflowId, r.error);
  }
  return results;
}

describe('recorded workflow histories', () => {
  it('cover every workflow in workflows/index.ts', () => {
    const exported = Object.entries(workflows)
      .filter(([, v]) => typeof v === 'function')
      .map(([name]) => name)
      .sort();
    expect(exported.length).toBeGreaterThanOrEqual(8);
    const recorded = new Set(fixtures.map((f) => workflowTypeOf(f.history)));
    expect(exported.filter((name) => !recorded.has(name)), 'workflows without a recorded history: run test/replay/capture.ts').toEqual([]);
    for (const f of fixtures) expect(f.name, 'fixtures are named <workflow>-<case>').toMatch(/^[a-z0-9]+(-[a-z0-9]+)+$/);
  });

  it('replay without a determinism violation against the current workflow code', async () => {
    const results = await replay({ workflowBundle: { codePath: inject('workflowBundlePath') } }, fixtures);
    expect([...results.keys()].sort()).toEqual(fixtures.map((f) => f.name).sort());
    const failed = [...results].filter(([, error]) => error).map(([name, error]) => `${name}: ${error!.name}: ${error!.message}`);
    expect(failed).toEqual([]);
  });

  it('hold no secret, not even inside a payload', () => {
    for (const f of fixtures) {
      const texts = textsOf(f.json);
      expect(
        texts.filter((t) => SECRET_PATTERN.test(t)),
        f.name,
      ).toEqual([]);
    }
    // The check reads decoded payloads: what a delivery's history carries is its id, in base64.
    const delivery = fixtures.find((f) => f.name === 'delivery-succeeds')!;
    expect(delivery.text).not.toContain('"deliveryId"');
    expect(textsOf(delivery.json).some((t) => /"deliveryId":"dlv_/.test(t))).toBe(true);
    expect(textsOf({ data: Buffer.from('{"secret":"whsec_abc"}').toString('base64'), metadata: {} }).some((t) => SECRET_PATTERN.test(t))).toBe(true);
  });
});

describe('the replay test', () => {
  it('fails on workflow code that runs the recorded commands in another order', async () => {
    const byName = (name: string) => fixtures.find((f) => f.name === name)!;
    const results = await replay({ workflowsPath: ALTERED_WORKFLOWS }, [byName('key-reminders-scheduled'), byName('delivery-retries-then-succeeds')]);
    expect(results.size).toBe(2);
    for (const [name, error] of results) {
      expect(error, name).toBeInstanceOf(DeterminismViolationError);
    }
  });
});
