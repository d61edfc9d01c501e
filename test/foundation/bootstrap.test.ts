import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../core/bootstrap.js';
import { hasValidChecksum } from '../../core/keys/secret.js';
import { authenticate } from '../../server/auth/authenticate.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

const em = () => stack.orm.em.fork() as never;

describe('getting in', () => {
  it('GATEHOUSE_BOOTSTRAP_KEY works as an admin + operator key of the default workspace', async () => {
    const p = await authenticate(em(), stack.bootstrapKey);
    expect(p).toMatchObject({ workspaceId: 'default', keyId: 'bootstrap' });
    expect(p!.scopes.has('operator')).toBe(true);
    expect(p!.scopes.has('keys:write')).toBe(true);
  });

  it('a new bootstrap secret replaces the old one', async () => {
    const next = 'another-bootstrap-secret-of-enough-length-0001';
    await bootstrap(em(), { ...stack.config, GATEHOUSE_BOOTSTRAP_KEY: next });
    expect(await authenticate(em(), next)).toMatchObject({ keyId: 'bootstrap' });
    expect(await authenticate(em(), stack.bootstrapKey)).toBeUndefined();
    await bootstrap(em(), stack.config);
    expect(await authenticate(em(), stack.bootstrapKey)).toMatchObject({ keyId: 'bootstrap' });
  });

  it('without it, the first start creates one admin key, shown once', async () => {
    const config = { ...stack.config, GATEHOUSE_BOOTSTRAP_KEY: undefined, GATEHOUSE_DEFAULT_WORKSPACE: 'fresh' };
    const first = await bootstrap(em(), config);
    expect(first.createdSecret).toMatch(/^gate_sk_live_/);
    expect(hasValidChecksum(first.createdSecret!)).toBe(true);
    expect(await authenticate(em(), first.createdSecret!)).toMatchObject({ workspaceId: 'fresh', keyId: 'admin' });
    const second = await bootstrap(em(), config);
    expect(second.createdSecret).toBeUndefined();
  });

  it('stores no secret in clear', async () => {
    const rows = await stack.orm.em.fork().execute(`select * from api_key_secret s join api_key k on k.pk = s.api_key_pk`);
    expect(JSON.stringify(rows)).not.toContain(stack.bootstrapKey);
  });
});
