// The REST calls a protected service makes, typed: verifying a key it received, reporting the
// calls it served, and publishing events. No tRPC here: `@gatehouse/express` builds on this.
import { retryingFetch, settled, type RetryOptions } from './retrying-fetch.js';

export interface GatehouseRestOptions extends RetryOptions {
  /** Base URL of the Gatehouse API, e.g. `https://gatehouse.example.com`. */
  url: string;
  /** This service's Gatehouse key (`keys:verify`, `usage:write`, `events:publish` as needed). */
  apiKey: string;
  /** Sent with every call besides the key. */
  headers?: Record<string, string>;
}

export interface VerifyInput {
  /** The secret (or Gatehouse access token) the caller presented. */
  key: string;
  /** A permission or expression (`a AND b`) the key must hold. */
  permission?: string;
  /** Where the caller connected from, for the key's IP allowlist. */
  ip?: string;
  /** Credits to charge (default 1). */
  cost?: number;
}

export type VerifyCode = 'VALID' | 'NOT_FOUND' | 'DISABLED' | 'EXPIRED' | 'FORBIDDEN' | 'INSUFFICIENT_PERMISSIONS' | 'RATE_LIMITED' | 'USAGE_EXCEEDED';

/** `POST /v1/keys/verify`'s answer: always 200; `valid` and `code` decide. */
export interface Verification {
  valid: boolean;
  code: VerifyCode | (string & {});
  key_id: string | null;
  permissions: string[];
  /** `scope` says whose limit: the key's own (or its plan's per-key ceiling), or one shared by the workspace's keys. */
  ratelimit: { scope: 'key' | 'workspace'; name: string; limit: number; remaining: number; reset: number } | null;
  /** The workspace's monthly call quota or credit grant; null without a plan setting one. */
  quota: { scope: 'workspace'; name: 'monthly_calls' | 'monthly_credits'; limit: number; remaining: number; reset: number } | null;
  credits: number | null;
  expires_at: string | null;
  /** Access tokens only: the workspace the token's key belongs to. */
  workspace_id?: string | null;
}

/** One call the service served, as `POST /v1/usage` takes it. */
export interface UsageReport {
  key_id: string | null;
  method: string;
  /** The route's pattern, `/products/{id}`: never the raw path. */
  route: string;
  status: number;
  latency_ms: number;
  /** ISO 8601. */
  time: string;
  code: string | null;
}

export interface UsageReportResult {
  accepted: number;
  rejected: number;
  errors: { index: number; field?: string; message: string }[];
}

export interface PublishedEvent {
  id: string;
  type: string;
  created_at: string;
  /** Endpoints subscribed and active when the event was stored. */
  deliveries: number;
}

/** A non-2xx answer: `code`, `message` and `field` are Gatehouse's `{error}` body. */
export class GatehouseError extends Error {
  override name = 'GatehouseError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface GatehouseRest {
  verify(input: VerifyInput): Promise<Verification>;
  /** At most 5,000 records per call; a 207 lists the records refused. */
  reportUsage(records: UsageReport[]): Promise<UsageReportResult>;
  /**
   * The same call with its body already encoded, `{"records":[…]}`: `@gatehouse/express` writes
   * each report into its batch as the response finishes instead of keeping report objects.
   */
  reportUsageJson(body: string | Uint8Array): Promise<UsageReportResult>;
  /** The same `idempotencyKey` within 24 h answers the same event and sends nothing new. */
  publishEvent(event: { type: string; payload: unknown; idempotencyKey?: string }): Promise<PublishedEvent>;
}

export function createGatehouseRest(opts: GatehouseRestOptions): GatehouseRest {
  const base = opts.url.replace(/\/+$/, '');
  const doFetch = retryingFetch(opts);

  /** POSTs `body`, JSON already encoded. */
  async function post<T>(path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<T> {
    const res = await doFetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': opts.apiKey, ...opts.headers, ...headers },
      body: body as BodyInit,
    });
    let json: (T & { error?: { code?: string; message?: string; field?: string } }) | null;
    try {
      json = (await res.json()) as typeof json;
    } catch (err) {
      // An answer cut off or timed out mid-body is no answer; a refusal's body is only its detail.
      if (res.ok) throw new Error(`Gatehouse's answer to ${path} could not be read: ${(err as Error).message}`, { cause: err });
      json = null;
    } finally {
      settled(res);
    }
    if (!res.ok && res.status !== 207) {
      const e = json?.error;
      throw new GatehouseError(res.status, e?.code ?? 'http_error', e?.message ?? `Gatehouse answered ${res.status}`, e?.field);
    }
    return json as T;
  }

  return {
    verify: (input) => post<Verification>('/v1/keys/verify', JSON.stringify(input)),
    reportUsage: (records) => post<UsageReportResult>('/v1/usage', JSON.stringify({ records })),
    reportUsageJson: (body) => post<UsageReportResult>('/v1/usage', body),
    publishEvent: ({ type, payload, idempotencyKey }) =>
      post<PublishedEvent>('/events', JSON.stringify({ type, payload }), idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
  };
}
