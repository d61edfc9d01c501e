import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateSigningKeyNow } from '../../core/oauth/rotation.js';
import { signingKeyRotationWorkflowId } from '../../temporal/workflow-ids.js';
import { startStack, type Stack } from '../harness.js';
import { createKey, introspect, token, until, type OAuthKey } from './oauth-client.js';

let stack: Stack;
let key: OAuthKey;
beforeAll(async () => {
  stack = await startStack();
  key = await createKey(stack);
});
afterAll(() => stack.close());

const kidOf = (t: string) => decodeProtectedHeader(t).kid!;
const active = async (t: string) => (await introspect(stack, t)).body.active as boolean;
const jwksKids = async () => ((await (await fetch(`${stack.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
const signingKeys = async () => (await stack.rest('GET', '/oauth/signing-keys')).body.signing_keys as { kid: string; state: string }[];
const stateOf = async (kid: string) => (await signingKeys()).find((k) => k.kid === kid)?.state;

describe('signing-key rotation under traffic', () => {
  it('publishes the next key before it signs, keeps the retired one until its grace ends, then drops it', async () => {
    const before = await token(stack, key);
    const k0 = kidOf(before);
    // Seconds instead of the production waits (10 min publication, 24 h grace): the steps are the same.
    const { workflowId } = await rotateSigningKeyNow({ ...stack.deps }, { publishMs: 5_000, graceMs: 5_000 });
    expect(workflowId).toBe(signingKeyRotationWorkflowId(stack.config));

    // Phase 1: the next key is in the JWKS but signs nothing yet.
    await until(async () => (await jwksKids()).length === 2, 15_000, 'the next key to be published');
    const during = await token(stack, key);
    const k1 = (await jwksKids()).find((k) => k !== k0)!;
    expect(await stateOf(k1)).toBe('next');
    expect(kidOf(during)).toBe(k0);

    // One rotation at a time: rotate-now while this one runs is a conflict.
    const again = await stack.rest('POST', '/oauth/signing-keys/rotate');
    expect(again.status).toBe(409);

    // Phase 2: the next key signs; the previous is retired, still published, its tokens still valid.
    await until(async () => (await stateOf(k1)) === 'active', 15_000, 'the next key to be promoted');
    const after = await token(stack, key);
    expect(kidOf(after)).toBe(k1);
    expect(await stateOf(k0)).toBe('retired');
    for (const t of [before, during, after]) expect(await active(t)).toBe(true);

    // Phase 3: the grace ends; the retired key leaves the JWKS and what it signed is refused.
    const result = await stack.temporal.client.workflow.getHandle(workflowId).result();
    expect(result).toMatchObject({ kid: k1, retired: [k0], promoted: true });
    expect(await jwksKids()).toEqual([k1]);
    expect(await active(before)).toBe(false);
    expect(await active(during)).toBe(false);
    expect(await active(after)).toBe(true);
    expect(await stateOf(k0)).toBe('retired');

    // The rotation is in Temporal's history under its id, for the Web UI.
    const described = await stack.temporal.client.workflow.getHandle(workflowId).describe();
    expect(described.type).toBe('signingKeyRotationWorkflow');
    expect(described.status.name).toBe('COMPLETED');
  });

  it('an emergency revoke of the active key ends its tokens at once and a new key signs', async () => {
    const t = await token(stack, key);
    const kid = kidOf(t);
    const res = await stack.rest('POST', `/oauth/signing-keys/${kid}/revoke`);
    expect(res.status).toBe(200);
    expect(res.body.revoked).toMatchObject({ kid, state: 'revoked' });
    expect(res.body.replacement).toMatchObject({ state: 'active' });
    expect(await active(t)).toBe(false);
    expect((await stack.rest('POST', '/v1/keys/verify', { body: { key: t } })).body.code).toBe('NOT_FOUND');
    expect(await jwksKids()).not.toContain(kid);
    const fresh = await token(stack, key);
    expect(kidOf(fresh)).toBe(res.body.replacement.kid);
    expect(await active(fresh)).toBe(true);
  });

  it('is for operators only', async () => {
    const admin = await stack.workspace(['admin']);
    expect((await stack.rest('GET', '/oauth/signing-keys', { key: admin.secret })).status).toBe(403);
    expect((await stack.rest('POST', '/oauth/signing-keys/rotate', { key: admin.secret })).status).toBe(403);
  });
});
