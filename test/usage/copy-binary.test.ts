// The recorder writes its batches by COPY in PostgreSQL's binary format (core/usage/copy-binary.ts).
// What a user would notice if the encoding were wrong: a request-log row whose route, key, code,
// status, latency or time differs from what was recorded, or records lost across chunk boundaries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  // A long interval: every test flushes explicitly, so nothing depends on timing.
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
});
afterAll(() => stack.close());

interface Rec {
  key_id: string | null;
  source: string;
  method: string;
  route: string;
  status: number;
  latency_ms: number;
  code: string | null;
  counted: boolean;
  created_at: Date;
}

async function records(workspaceId: string): Promise<Rec[]> {
  await stack.deps.usage.flush();
  return stack.orm.em
    .fork()
    .execute<Rec[]>(`select key_id, source, method, route, status, latency_ms, code, counted, created_at from usage_record where workspace_id = ? order by id`, [workspaceId]);
}

describe('usage records written by binary COPY', () => {
  it('keep every field as recorded: characters text COPY escapes, multi-byte text, NULLs, fractions and milliseconds', async () => {
    const ws = await stack.workspace(['admin']);
    // Today's partition exists; a time with milliseconds in it.
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 655);
    const routes = ['/tab\there/{id}', '/line\nbreak', '/back\\slash\\N', '/café/{id}/✓'];
    for (const route of routes) {
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: null, source: 'service', method: 'GET', route, status: 503, latencyMs: 12.25, code: null, counted: false, at });
    }
    stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: 'key_ünïcode', source: 'verification', method: 'POST', route: '/v1/keys/verify', status: 200, latencyMs: 0.1, code: 'RATE_LIMITED', counted: true, at });
    const rows = await records(ws.workspaceId);
    expect(rows.map((r) => r.route)).toEqual([...routes, '/v1/keys/verify']);
    for (const r of rows.slice(0, 4)) {
      expect(r).toMatchObject({ key_id: null, source: 'service', method: 'GET', status: 503, latency_ms: 12.25, code: null, counted: false });
      expect(new Date(r.created_at).toISOString()).toBe(at.toISOString());
    }
    expect(rows[4]).toMatchObject({ key_id: 'key_ünïcode', source: 'verification', method: 'POST', status: 200, code: 'RATE_LIMITED', counted: true });
    // `real`: the float4 nearest 0.1, as text COPY stored it.
    expect(rows[4]!.latency_ms).toBeCloseTo(0.1, 6);
  });

  it('loses nothing across chunks: a batch of many rows, keys and routes changing from row to row', async () => {
    const ws = await stack.workspace(['admin']);
    const n = 3_000;
    const at = Date.now() - n;
    for (let i = 0; i < n; i++) {
      // ~200 bytes a row: a 64 KB chunk holds ~300 of them, so the batch spans several.
      const route = `/r${i % 7}/${'x'.repeat(150)}`;
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: `key_${i % 3}`, source: 'service', method: i % 2 ? 'POST' : 'GET', route, status: 200 + (i % 5), latencyMs: i / 4, code: i % 4 ? 'VALID' : null, counted: true, at: new Date(at + i) });
    }
    const rows = await records(ws.workspaceId);
    expect(rows).toHaveLength(n);
    rows.forEach((r, i) => {
      expect([r.key_id, r.method, r.route.slice(0, 3), r.status, r.latency_ms, r.code, new Date(r.created_at).getTime()]).toEqual([
        `key_${i % 3}`,
        i % 2 ? 'POST' : 'GET',
        `/r${i % 7}`,
        200 + (i % 5),
        i / 4,
        i % 4 ? 'VALID' : null,
        at + i,
      ]);
    });
  });
});
