import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifyKeyChanged } from '../../core/keys/notify.js';
import { startStack, type Stack } from '../harness.js';
import { addKey } from './keys.js';
import { cookieOf, requestFrom, trpcFrom } from './from-address.js';

/**
 * A key's IP allowlist holds wherever the key authenticates, not only in /v1/keys/verify: REST,
 * tRPC with x-api-key, UI sign-in, and every request of a UI session opened with it.
 * 127.0.0.1 and 127.0.0.2 are two clients (two socket addresses) of the same machine.
 */
let stack: Stack;
let ws: { workspaceId: string; secret: string };
let pinned: string;
const ALLOWED = '127.0.0.2';
const OTHER = '127.0.0.1';

beforeAll(async () => {
  stack = await startStack({ worker: false });
  ws = await stack.workspace(['admin']);
  pinned = await addKey(stack, ws.workspaceId, { id: 'pinned', permissions: ['admin'], ipAllowlist: [`${ALLOWED}/32`] });
});
afterAll(() => stack.close());

describe('IP allowlist on Gatehouse’s own API', () => {
  it('REST refuses the key from another address with 403 ip_not_allowed, naming no address', async () => {
    const refused = await requestFrom(OTHER, `${stack.url}/api-keys`, { headers: { 'x-api-key': pinned } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('ip_not_allowed');
    expect(JSON.stringify(refused.body)).not.toContain(ALLOWED);

    const verify = await requestFrom(OTHER, `${stack.url}/v1/keys/verify`, { method: 'POST', headers: { 'x-api-key': pinned }, body: { key: ws.secret } });
    expect(verify.status).toBe(403);

    const allowed = await requestFrom(ALLOWED, `${stack.url}/api-keys`, { headers: { 'x-api-key': pinned } });
    expect(allowed.status).toBe(200);
  });

  it('tRPC with x-api-key refuses it with FORBIDDEN', async () => {
    const refused = await trpcFrom(OTHER, stack.url, 'query', 'keys.list', { key: pinned });
    expect(refused.status).toBe(403);
    expect(refused.body.error.data.code).toBe('FORBIDDEN');
    expect(JSON.stringify(refused.body)).not.toContain(ALLOWED);

    const allowed = await trpcFrom(ALLOWED, stack.url, 'query', 'system.whoami', { key: pinned });
    expect(allowed.status).toBe(200);
    expect(allowed.body.result.data).toMatchObject({ keyId: 'pinned' });
  });

  it('UI sign-in refuses it from another address and sets no cookie', async () => {
    const refused = await trpcFrom(OTHER, stack.url, 'mutation', 'session.signIn', { input: { key: pinned } });
    expect(refused.status).toBe(403);
    expect(refused.headers['set-cookie']).toBeUndefined();

    const allowed = await trpcFrom(ALLOWED, stack.url, 'mutation', 'session.signIn', { input: { key: pinned } });
    expect(allowed.status).toBe(200);
    const cookie = cookieOf(allowed);
    // The session is the key: carried to another address, the cookie is refused like the key.
    const elsewhere = await trpcFrom(OTHER, stack.url, 'query', 'keys.list', { cookie });
    expect(elsewhere.status).toBe(403);
    expect((await trpcFrom(ALLOWED, stack.url, 'query', 'keys.list', { cookie })).status).toBe(200);
  });

  it('an allowlist added after sign-in applies to the open session at once', async () => {
    const key = await addKey(stack, ws.workspaceId, { id: 'later-pinned', permissions: ['admin'] });
    const signedIn = await trpcFrom(OTHER, stack.url, 'mutation', 'session.signIn', { input: { key } });
    expect(signedIn.status).toBe(200);
    const cookie = cookieOf(signedIn);
    expect((await trpcFrom(OTHER, stack.url, 'query', 'system.whoami', { cookie })).status).toBe(200);

    const em = stack.orm.em.fork();
    await em.transactional(async (tx) => {
      const [row] = await tx.execute<{ pk: string }[]>(
        `update api_key set ip_allowlist = ? where workspace_id = ? and id = 'later-pinned' returning pk`,
        [JSON.stringify([ALLOWED]), ws.workspaceId],
      );
      await notifyKeyChanged(tx, row!.pk);
    });

    const refused = await trpcFrom(OTHER, stack.url, 'query', 'system.whoami', { cookie });
    expect(refused.status).toBe(403);
    expect(refused.body.error.data.code).toBe('FORBIDDEN');
    expect((await trpcFrom(OTHER, stack.url, 'query', 'system.whoami', { key })).status).toBe(403);
    expect((await trpcFrom(ALLOWED, stack.url, 'query', 'system.whoami', { cookie })).status).toBe(200);

    // That browser is not stuck: it reads as signed out, and may sign out or sign in with another key.
    expect((await trpcFrom(OTHER, stack.url, 'query', 'session.me', { cookie })).body.result.data).toBeNull();
    expect((await trpcFrom(OTHER, stack.url, 'mutation', 'session.signIn', { cookie, input: { key: ws.secret } })).status).toBe(200);
    expect((await trpcFrom(OTHER, stack.url, 'mutation', 'session.signOut', { cookie })).status).toBe(200);
    expect((await trpcFrom(ALLOWED, stack.url, 'query', 'system.whoami', { cookie })).status).toBe(401);
  });
});
