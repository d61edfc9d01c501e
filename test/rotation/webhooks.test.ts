import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { addKey, hashOf, waitFor } from './helpers.js';

let stack: Stack;
let receiver: Server;
let receiverUrl: string;
const received: string[] = [];
beforeAll(async () => {
  stack = await startStack();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
});
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
  await stack.close();
});

describe('rotation events reach webhook endpoints', () => {
  it('a subscribed endpoint receives key.rotated and key.revoked, raised in that order, with ids and times and no secret', async () => {
    const ws = await stack.workspace(['admin']);
    const key = await addKey(stack, ws.workspaceId);
    const endpoint = await stack.rest('POST', '/webhooks', {
      key: ws.secret,
      body: { url: receiverUrl, event_types: ['key.rotated', 'key.revoked'] },
    });
    expect(endpoint.status).toBe(201);

    const rotated = await stack.rest('POST', `/api-keys/${key.keyId}/rotate`, { key: ws.secret, body: { grace_period_seconds: 1 } });
    expect(rotated.status).toBe(201);

    const mine = () => received.filter((b) => b.includes(`"${key.keyId}"`));
    const bodies = await waitFor('both deliveries', async () => (mine().length >= 2 ? mine() : undefined), 30_000, 200);
    // Each delivery is its own workflow, so they may arrive in either order; the events' times say which came first.
    const events = bodies.map((b) => JSON.parse(b) as { type: string; timestamp: string });
    expect(events.map((e) => e.type).sort()).toEqual(['key.revoked', 'key.rotated']);
    const at = (type: string) => Date.parse(events.find((e) => e.type === type)!.timestamp);
    expect(at('key.rotated')).toBeLessThan(at('key.revoked'));
    const rotatedBody = bodies.find((b) => b.includes('key.rotated'))!;
    expect(rotatedBody).toContain(rotated.body.previous_key_expires_at);
    for (const b of bodies) {
      expect(b).not.toContain(rotated.body.api_key);
      expect(b).not.toContain(key.secret);
      expect(b).not.toContain(hashOf(stack, key.secret));
    }
  });
});
