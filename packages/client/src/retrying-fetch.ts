// One fetch for every call the client makes: a timeout per attempt, and retries with backoff
// where repeating the request cannot do something twice.

export interface RetryOptions {
  /** Give up on one attempt after this long (default 10 s). */
  timeoutMs?: number;
  /** Further attempts after the first (default 2). */
  retries?: number;
  fetch?: typeof fetch;
}

const RETRY_STATUS = new Set([429, 502, 503, 504]);
const BASE_DELAY_MS = 200;
/** A Retry-After longer than this is not waited out: the caller gets the answer. */
const MAX_DELAY_MS = 30_000;

/** `Retry-After` in seconds or as an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(res: Response): number | undefined {
  const value = res.headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * A 429 was refused before anything happened, so it is always retried. A 5xx or a network
 * failure may have happened after the server acted: retried only for reads and for requests
 * carrying an Idempotency-Key, never for a mutation that could run twice.
 */
function repeatable(init: RequestInit | undefined): boolean {
  const method = (init?.method ?? 'GET').toUpperCase();
  return method === 'GET' || method === 'HEAD' || new Headers(init?.headers).has('idempotency-key');
}

export function retryingFetch({ timeoutMs = 10_000, retries = 2, fetch: inner = fetch }: RetryOptions = {}): typeof fetch {
  return async (input, init) => {
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
      const backoff = BASE_DELAY_MS * 2 ** attempt * (0.5 + Math.random());
      let res: Response;
      try {
        res = await inner(input, { ...init, signal });
      } catch (err) {
        if (attempt >= retries || init?.signal?.aborted || !repeatable(init)) throw err;
        await delay(backoff);
        continue;
      }
      if (attempt >= retries || !RETRY_STATUS.has(res.status) || (res.status !== 429 && !repeatable(init))) return res;
      const wait = retryAfterMs(res) ?? backoff;
      if (wait > MAX_DELAY_MS) return res;
      await res.body?.cancel();
      await delay(wait);
    }
  };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
