import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raiseEvent, type EventDeps } from '../../core/events.js';
import { CATALOG_EVENT_TYPES, EVENT_CATALOG, catalogJsonSchema } from '../../core/events/catalog.js';
import { seedEventTypes } from '../../core/webhooks/event-types.js';
import { migrationsList } from '../../db/migrations/index.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.close();
});

const byName = <T extends { name: string }>(list: T[]) => [...list].sort((a, b) => a.name.localeCompare(b.name));

/** An order payload schema of a workspace's own: `items[].sku` must be a string. */
const orderSchema = {
  type: 'object',
  properties: {
    order_id: { type: 'string' },
    items: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] } },
  },
  required: ['order_id'],
  examples: [{ order_id: 'ord_1', items: [{ sku: 'SNK-42' }] }],
};

describe('the event catalog', () => {
  it('declares every event type of the product contract and every one Gatehouse raises', () => {
    expect([...CATALOG_EVENT_TYPES].sort()).toEqual(
      [
        'product.generated', 'ai.generation.completed', 'content.approved', 'content.published', 'export.completed',
        'credits.low', 'key.created', 'key.rotated', 'key.revoked', 'key.expiring', 'key.rotation_due',
        'usage.rate_limit.approaching', 'usage.rate_limit.exceeded', 'usage.monthly_report', 'webhook.endpoint.disabled',
        'webhook.test',
        // The provider's plane (issue 12).
        'workspace.created', 'usage.quota.approaching', 'usage.quota.exceeded', 'usage.quota.reset',
        'limits.request.created', 'limits.request.decided',
      ].sort(),
    );
  });

  it("gives each type an example its own schema accepts, as zod and as the published JSON Schema", () => {
    for (const type of CATALOG_EVENT_TYPES) {
      const entry = EVENT_CATALOG[type];
      expect(entry.description, type).not.toBe('');
      expect(entry.schema.safeParse(entry.example).success, type).toBe(true);
      const validate = new Ajv2020({ strict: false, validateFormats: false }).compile(catalogJsonSchema(type));
      expect(validate(entry.example), `${type}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('is checked by the compiler: a misspelt type or a wrong payload does not typecheck', () => {
    // Never called: `npm run typecheck` (tsc over test/) fails if either line compiles.
    const misuse = (deps: EventDeps) => [
      // @ts-expect-error 'key.rotatd' is not an event type of the catalog
      raiseEvent(deps, { workspaceId: 'ws', type: 'key.rotatd', payload: { key_id: 'k', expires_at: '2026-12-01T00:00:00Z' } }),
      // @ts-expect-error key.expiring's payload needs expires_at
      raiseEvent(deps, { workspaceId: 'ws', type: 'key.expiring', payload: { key_id: 'k' } }),
    ];
    expect(typeof misuse).toBe('function');
  });

  it('is what start-up writes into event_type, and no migration after the first seeds event types', async () => {
    const rows = await stack.orm.em
      .fork()
      .execute<{ name: string; description: string; schema: Record<string, unknown> }[]>(`select name, description, schema from event_type where workspace_id is null`);
    expect(byName(rows)).toEqual(
      byName(CATALOG_EVENT_TYPES.map((name) => ({ name, description: EVENT_CATALOG[name].description, schema: catalogJsonSchema(name) }))),
    );
    // The first webhooks migration seeded them before the catalog existed; it stays as history.
    for (const m of migrationsList.filter((m) => m.name > 'Migration20261123093719_Webhooks')) {
      const source = readFileSync(new URL(`../../db/migrations/${m.name}.ts`, import.meta.url), 'utf8');
      expect(source, m.name).not.toMatch(/insert\s+into\s+"?event_type"?/i);
    }
  });

  it('seeding brings a changed built-in type back in line, and an unchanged one writes nothing', async () => {
    const em = stack.orm.em.fork();
    await em.execute(`update event_type set description = 'stale', schema = null where id = 'etb_key.expiring'`);
    await em.execute(`delete from event_type where id = 'etb_webhook.test'`);
    expect(await seedEventTypes(em)).toBe(2);
    expect(await seedEventTypes(em)).toBe(0);
    const [row] = await em.execute<{ description: string; schema: unknown }[]>(`select description, schema from event_type where id = 'etb_key.expiring'`);
    expect(row).toEqual({ description: EVENT_CATALOG['key.expiring'].description, schema: catalogJsonSchema('key.expiring') });
  });
});

describe('GET /event-types, eventTypes.list and /openapi.json', () => {
  it('return every built-in type with its JSON Schema and an example', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const res = await stack.rest('GET', '/event-types', { key });
    expect(res.status).toBe(200);
    const builtIn = (res.body.event_types as { name: string; built_in: boolean; schema: unknown; example: unknown }[]).filter((t) => t.built_in);
    expect(byName(builtIn).map(({ name, schema, example }) => ({ name, schema, example }))).toEqual(
      byName(CATALOG_EVENT_TYPES.map((name) => ({ name, schema: catalogJsonSchema(name), example: EVENT_CATALOG[name].example }))),
    );

    const listed = await (await stack.caller(key)).eventTypes.list();
    const rotated = listed.find((t) => t.name === 'key.rotated')!;
    expect(rotated).toMatchObject({ builtIn: true, schema: catalogJsonSchema('key.rotated'), example: EVENT_CATALOG['key.rotated'].example });
  });

  it('/openapi.json describes every catalog event under webhooks: the signed POST of its envelope', async () => {
    const doc = (await stack.rest('GET', '/openapi.json', { key: null })).body as {
      openapi: string;
      webhooks: Record<string, { post: { summary: string; parameters: { name: string }[]; requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> }; example: { type: string; data: unknown } }> } } }>;
    };
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(doc.webhooks).sort()).toEqual([...CATALOG_EVENT_TYPES].sort());
    for (const type of CATALOG_EVENT_TYPES) {
      const post = doc.webhooks[type]!.post;
      expect(post.summary).toBe(EVENT_CATALOG[type].description);
      expect(post.parameters.map((p) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
      const body = post.requestBody.content['application/json']!;
      expect(Object.keys(body.schema.properties)).toEqual(['type', 'timestamp', 'data']);
      expect(body.schema.properties['type']).toMatchObject({ const: type });
      expect(body.example).toMatchObject({ type, data: EVENT_CATALOG[type].example });
    }
  });
});

describe('payload schemas', () => {
  it('a custom type with a JSON Schema refuses a payload that does not match, naming the JSON path, and accepts one that does', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const created = await stack.rest('POST', '/event-types', { key, body: { name: 'order.placed', description: 'An order was placed', schema: orderSchema } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'order.placed', built_in: false, schema: orderSchema, example: orderSchema.examples[0] });
    const listed = (await stack.rest('GET', '/event-types', { key })).body.event_types as { name: string; schema: unknown }[];
    expect(listed.find((t) => t.name === 'order.placed')).toMatchObject({ schema: orderSchema, example: orderSchema.examples[0] });

    const publish = (payload: unknown) => stack.rest('POST', '/events', { key, body: { type: 'order.placed', payload } });
    const wrong = await publish({ order_id: 'ord_2', items: [{ sku: 'A' }, { sku: 7 }] });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({ code: 'invalid_input', field: 'payload.items[1].sku', message: 'payload.items[1].sku: must be string' });
    const missing = await publish({ items: [] });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ field: 'payload.order_id', message: 'payload.order_id: is required' });

    const ok = await publish({ order_id: 'ord_3', items: [{ sku: 'SNK-42' }], note: 'other fields are the schema’s business' });
    expect(ok.status).toBe(202);
    expect(ok.body).toMatchObject({ type: 'order.placed' });

    // The same through tRPC, and a type without a schema takes any object as before.
    const caller = await stack.caller(key);
    await expect(caller.events.publish({ type: 'order.placed', payload: { order_id: 1 } })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: 'payload.order_id: must be string',
    });
    await caller.eventTypes.create({ name: 'order.free' });
    await expect(caller.events.publish({ type: 'order.free', payload: { anything: [1, { at: 'all' }] } })).resolves.toMatchObject({ type: 'order.free' });
  });

  it('catalog types are checked by their zod schema, their other fields left alone', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const wrong = await stack.rest('POST', '/events', { key, body: { type: 'product.generated', payload: { product_id: 'p1', sku: 42 } } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({ field: 'payload.sku', message: expect.stringMatching(/^payload\.sku: .*expected string/) });
    const ok = await stack.rest('POST', '/events', { key, body: { type: 'product.generated', payload: { product_id: 'p1', colour: 'red' } } });
    expect(ok.status).toBe(202);
  });

  it('an invalid JSON Schema is a 400 naming schema, and nothing is registered', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['a type that does not exist', { type: 'strnig' }, /^schema\.type: /],
      ['a negative length', { type: 'string', minLength: -1 }, /^schema\.minLength: /],
      ['another dialect', { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' }, /^schema\.\$schema: .*2020-12/],
      ['a reference to another document', { $ref: 'https://schemas.example.com/order.json' }, /^schema: .*resolve reference/],
      ['a pattern RE2 cannot run', { type: 'string', pattern: '^(?!admin).*$' }, /^schema: /],
    ];
    for (const [what, schema, message] of cases) {
      const res = await stack.rest('POST', '/event-types', { key, body: { name: 'order.bad', schema } });
      expect(res.status, what).toBe(400);
      expect(res.body.error.message, what).toMatch(message);
      expect(res.body.error.field, what).toMatch(/^schema/);
    }
    const big = { type: 'object', description: 'x'.repeat(65 * 1024) };
    expect((await stack.rest('POST', '/event-types', { key, body: { name: 'order.bad', schema: big } })).body.error).toMatchObject({ field: 'schema' });
    const names = ((await stack.rest('GET', '/event-types', { key })).body.event_types as { name: string }[]).map((t) => t.name);
    expect(names).not.toContain('order.bad');
    await expect((await stack.caller(key)).eventTypes.create({ name: 'order.bad', schema: { type: 'strnig' } })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/^schema\.type: /),
    });
  });

  it('runs patterns in linear time: a pattern that backtracks exponentially in JavaScript answers at once', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const schema = { type: 'object', properties: { code: { type: 'string', pattern: '^(a+)+$' } } };
    expect((await stack.rest('POST', '/event-types', { key, body: { name: 'code.sent', schema } })).status).toBe(201);
    const started = Date.now();
    const res = await stack.rest('POST', '/events', { key, body: { type: 'code.sent', payload: { code: `${'a'.repeat(5000)}!` } } });
    expect(res.body.error).toMatchObject({ field: 'payload.code', message: 'payload.code: must match pattern "^(a+)+$"' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
