import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { typedDb } from '../../db/kysely.js';
import type { EffectiveLimits } from '../plans/effective.js';
import { loadEffectiveLimits } from '../plans/load.js';
import { workspaceScope } from '../scope.js';

/**
 * What the portal's getting-started page needs to show one customer how to call the provider's API
 * (issue #13, item 5): where the API lives and how it takes a key (the provider's registration in
 * `provider_api`, or Gatehouse's own verify endpoint when there is none), the customer's newest
 * active key as its masked start (never a secret), and the plan's limits that apply to them.
 */
export interface ExampleCall {
  method: string;
  path: string;
  summary: string;
  /** A JSON body to send, for an operation that takes one (Gatehouse's verify does). */
  body: unknown;
}

export interface GettingStarted {
  api: {
    /** False: the provider has not registered its API; the example calls Gatehouse's own. */
    registered: boolean;
    title: string;
    baseUrl: string;
    keyHeader: string;
    keyScheme: 'header' | 'bearer';
    example: ExampleCall;
  };
  /** The newest active key of the workspace, masked; null when it has none. */
  key: { id: string; name: string; start: string } | null;
  limits: Pick<EffectiveLimits, 'planName' | 'keyRateLimits' | 'workspaceRateLimits' | 'monthlyCalls' | 'monthlyCredits' | 'maxKeys' | 'maxWebhookEndpoints'>;
}

type Operation = { summary?: unknown; operationId?: unknown; parameters?: unknown; requestBody?: unknown };
type Paths = Record<string, Record<string, Operation> | undefined>;

/** Whether an operation needs something beyond the key: a required parameter or a body. */
const needsInput = (op: Operation) =>
  op.requestBody !== undefined || (Array.isArray(op.parameters) && op.parameters.some((p) => (p as { required?: unknown }).required === true));

/**
 * The simplest read the document offers for the example: a GET with no path parameters and nothing
 * required, else any GET without path parameters; null when there is none (the example then calls
 * the base URL itself).
 */
export function simpleGet(document: Record<string, unknown>): ExampleCall | null {
  const paths = (document.paths ?? {}) as Paths;
  const gets = Object.entries(paths)
    .filter(([path, item]) => !path.includes('{') && item && typeof item.get === 'object' && item.get !== null)
    .map(([path, item]) => ({ path, op: item!.get! }));
  const pick = gets.find((g) => !needsInput(g.op)) ?? gets[0];
  if (!pick) return null;
  const summary = typeof pick.op.summary === 'string' ? pick.op.summary : typeof pick.op.operationId === 'string' ? pick.op.operationId : '';
  return { method: 'GET', path: pick.path, summary, body: undefined };
}

/** `gatehouseUrl`: where this Gatehouse answers (PUBLIC_URL, or the request's origin), for the fallback example. */
export async function gettingStarted(em: EntityManager, workspaceId: string, gatehouseUrl: string): Promise<GettingStarted> {
  const [registered, key, limits] = await Promise.all([
    typedDb(em).selectFrom('provider_api').select(['title', 'base_url', 'key_header', 'key_scheme', 'document']).where('id', '=', 'default').executeTakeFirst(),
    workspaceScope(em, workspaceId)
      .selectFrom('api_key')
      .select(['id', 'name', 'start'])
      .where('revoked_at', 'is', null)
      .where('enabled', '=', true)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst(),
    loadEffectiveLimits(em, workspaceId),
  ]);
  const api: GettingStarted['api'] = registered
    ? {
        registered: true,
        title: registered.title,
        baseUrl: registered.base_url,
        keyHeader: registered.key_header,
        keyScheme: registered.key_scheme === 'bearer' ? 'bearer' : 'header',
        example: simpleGet(registered.document) ?? { method: 'GET', path: '/', summary: '', body: undefined },
      }
    : {
        registered: false,
        title: 'Gatehouse',
        baseUrl: gatehouseUrl.replace(/\/+$/, ''),
        keyHeader: 'x-api-key',
        keyScheme: 'header',
        example: { method: 'POST', path: '/v1/keys/verify', summary: 'Verify a key', body: { key: '<a key to check>' } },
      };
  const { planName, keyRateLimits, workspaceRateLimits, monthlyCalls, monthlyCredits, maxKeys, maxWebhookEndpoints } = limits;
  return {
    api,
    key: key ?? null,
    limits: { planName, keyRateLimits, workspaceRateLimits, monthlyCalls, monthlyCredits, maxKeys, maxWebhookEndpoints },
  };
}
