import { describe, expect, expectTypeOf, it } from 'vitest';
import { HttpError } from '../../core/errors.js';
import { camelKeys, snakeErrors, snakeField, snakeJson, snakeKeys, snakeKeysDeep } from '../../server/rest/case.js';

describe('REST case mapping (server/rest/case.ts)', () => {
  it('snakeKeys renames one level of a view, typed, and leaves nested values alone', () => {
    const view = { id: 'lr_1', keyId: 'key_a', latencyMs: 1.5, decidedAt: null as string | null, metadata: { someKey: 1 } };
    const body = snakeKeys(view);
    expect(body).toEqual({ id: 'lr_1', key_id: 'key_a', latency_ms: 1.5, decided_at: null, metadata: { someKey: 1 } });
    expectTypeOf(body).toEqualTypeOf<{ id: string; key_id: string; latency_ms: number; decided_at: string | null; metadata: { someKey: number } }>();
  });

  it('names a word that starts with a digit as the REST API always has: errors_4xx, but p95_latency_ms', () => {
    const body = snakeKeys({ errors4xx: 1, errors5xx: 2, p95LatencyMs: 3 });
    expect(body).toEqual({ errors_4xx: 1, errors_5xx: 2, p95_latency_ms: 3 });
    expectTypeOf(body).toEqualTypeOf<{ errors_4xx: number; errors_5xx: number; p95_latency_ms: number }>();
    const back = camelKeys(body);
    expect(back).toEqual({ errors4xx: 1, errors5xx: 2, p95LatencyMs: 3 });
    expectTypeOf(back).toEqualTypeOf<{ errors4xx: number; errors5xx: number; p95LatencyMs: number }>();
    // An own key only: a name from Object.prototype is renamed by the rule.
    expect(snakeKeys({ toString: 1 })).toEqual({ to_string: 1 });
  });

  it('camelKeys turns a REST query or body into core input', () => {
    const input = camelKeys({ key_id: 'k', limit_name: 'per-minute', window_seconds: 60, reason: '' });
    expect(input).toEqual({ keyId: 'k', limitName: 'per-minute', windowSeconds: 60, reason: '' });
    expectTypeOf(input).toEqualTypeOf<{ keyId: string; limitName: string; windowSeconds: number; reason: string }>();
  });

  it('snakeKeysDeep walks objects and arrays but never renames inside user data', () => {
    const at = new Date('2026-11-01T00:00:00Z');
    const view = {
      eventType: 'order.paid',
      createdAt: at,
      attempts: [{ statusCode: 200, responseBody: 'ok' }],
      payload: { orderId: 'o1', lineItems: [{ unitPrice: 3 }] },
      metadata: { customerId: 'c1' },
      schema: { properties: { orderId: { type: 'string' } }, additionalProperties: false },
      example: { orderId: 'o1' },
      changes: { rateLimits: { from: [], to: [] } },
    };
    const body = snakeKeysDeep(view);
    expect(body).toEqual({
      event_type: 'order.paid',
      created_at: at,
      attempts: [{ status_code: 200, response_body: 'ok' }],
      payload: { orderId: 'o1', lineItems: [{ unitPrice: 3 }] },
      metadata: { customerId: 'c1' },
      schema: { properties: { orderId: { type: 'string' } }, additionalProperties: false },
      example: { orderId: 'o1' },
      changes: { rateLimits: { from: [], to: [] } },
    });
    expect(body.created_at).toBe(at);
    expectTypeOf(body.attempts[0]!).toEqualTypeOf<{ status_code: number; response_body: string }>();
    expectTypeOf(body.payload).toEqualTypeOf<{ orderId: string; lineItems: { unitPrice: number }[] }>();
  });

  it('snakeJson is snakeKeysDeep with each Date as its ISO string, typed string, never inside user data', () => {
    const at = new Date('2026-11-01T00:00:00Z');
    const view = {
      createdAt: at,
      disabledAt: null as Date | null,
      attempts: [{ attemptedAt: at, statusCode: 200 }],
      payload: { sentAt: '2026-11-01', lineItems: [{ unitPrice: 3 }] },
      schema: { properties: { sentAt: { type: 'string' } } } as Record<string, unknown> | null,
    };
    const body = snakeJson(view);
    expect(body).toEqual({
      created_at: '2026-11-01T00:00:00.000Z',
      disabled_at: null,
      attempts: [{ attempted_at: '2026-11-01T00:00:00.000Z', status_code: 200 }],
      payload: { sentAt: '2026-11-01', lineItems: [{ unitPrice: 3 }] },
      schema: { properties: { sentAt: { type: 'string' } } },
    });
    expect(JSON.stringify(body)).toBe(JSON.stringify(snakeKeysDeep(view)));
    expectTypeOf(body.created_at).toEqualTypeOf<string>();
    expectTypeOf(body.disabled_at).toEqualTypeOf<string | null>();
    expectTypeOf(body.attempts[0]!).toEqualTypeOf<{ attempted_at: string; status_code: number }>();
    expectTypeOf(body.payload).toEqualTypeOf<{ sentAt: string; lineItems: { unitPrice: number }[] }>();
  });

  it('snakeKeysDeep takes its own list of opaque keys', () => {
    const body = snakeKeysDeep({ userData: { keepMe: 1 }, inner: { renameMe: 2 } }, ['userData']);
    expect(body).toEqual({ user_data: { keepMe: 1 }, inner: { rename_me: 2 } });
    expectTypeOf(body.user_data).toEqualTypeOf<{ keepMe: number }>();
  });

  it('snakeErrors names the field of a core error as the REST client sent it', async () => {
    const named = snakeErrors(Promise.reject(new HttpError(400, 'invalid_input', "windowSeconds: required for 'per-day'", 'windowSeconds')));
    await expect(named).rejects.toMatchObject({ status: 400, code: 'invalid_input', field: 'window_seconds', message: "window_seconds: required for 'per-day'" });
    const plain = new HttpError(409, 'conflict', 'already pending', 'id');
    await expect(snakeErrors(Promise.reject(plain))).rejects.toBe(plain);
    await expect(snakeErrors(Promise.resolve(1))).resolves.toBe(1);
  });

  it('snakeField renames the field of one problem and the message that starts with it', () => {
    expect(snakeField({ index: 2, field: 'keyId', message: "keyId: no key 'x' in this workspace" })).toEqual({ index: 2, field: 'key_id', message: "key_id: no key 'x' in this workspace" });
    expect(snakeField({ index: 0, field: 'time', message: 'time: too old' })).toEqual({ index: 0, field: 'time', message: 'time: too old' });
    expect(snakeField({ index: 1, message: 'record: bad' })).toEqual({ index: 1, message: 'record: bad' });
  });
});
