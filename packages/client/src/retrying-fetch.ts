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

/** The timeout of the attempt each answer came from, until the caller has read its body (`settled`). */
const timeouts = new WeakMap<Response, ReturnType<typeof setTimeout>>();

/**
 * Ends the timeout of the attempt `res` answered, once its body has been read. Left to run, it
 * would fire `timeoutMs` later on a call long done, and aborting cost ~30–50 µs of CPU each (a
 * DOMException with its stack and an abort event into fetch): a service verifying every request
 * paid that again for each one, seconds after answering it (BENCHMARKS.md). A caller that never
 * settles only pays that cost.
 */
export function settled(res: Response): void {
  clearTimeout(timeouts.get(res));
}

/** An attempt's deadline: covers the answer's headers and, until `settled`, its body. */
function deadline(timeoutMs: number, outer: AbortSignal | null | undefined): { signal: AbortSignal; timer: ReturnType<typeof setTimeout> } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
  // A pending deadline must not keep the caller's process alive.
  (timer as { unref?: () => void }).unref?.();
  return { signal: outer ? AbortSignal.any([outer, controller.signal]) : controller.signal, timer };
}

export function retryingFetch({ timeoutMs = 10_000, retries = 2, fetch: inner = fetch }: RetryOptions = {}): typeof fetch {
  return async (input, init) => {
    for (let attempt = 0; ; attempt++) {
      const { signal, timer } = deadline(timeoutMs, init?.signal);
      const backoff = BASE_DELAY_MS * 2 ** attempt * (0.5 + Math.random());
      let res: Response;
      try {
        res = await inner(input, { ...init, ...uncopiedBody(init?.body, inner), signal });
      } catch (err) {
        clearTimeout(timer);
        if (attempt >= retries || init?.signal?.aborted || !repeatable(init)) throw err;
        await delay(backoff);
        continue;
      }
      if (attempt >= retries || !RETRY_STATUS.has(res.status) || (res.status !== 429 && !repeatable(init))) {
        timeouts.set(res, timer);
        return res;
      }
      const wait = retryAfterMs(res) ?? backoff;
      if (wait > MAX_DELAY_MS) {
        timeouts.set(res, timer);
        return res;
      }
      clearTimeout(timer);
      await res.body?.cancel();
      await delay(wait);
    }
  };
}

/**
 * Node's fetch (undici) copies a byte-array body before sending it. `@gatehouse/express` sends
 * ~0.5 MB of usage reports per batch several times a second on a busy service, and those copies,
 * external memory to V8, brought on a full garbage collection about every second (measured:
 * BENCHMARKS.md, 2026-12-03). Handed the same bytes as a one-chunk stream, fetch writes them as
 * they are. Only for the runtime's own fetch: one passed in may not take a stream body. Made per
 * attempt, since a stream is read once.
 */
function uncopiedBody(body: RequestInit['body'], inner: typeof fetch): { body?: ReadableStream<Uint8Array>; duplex?: 'half' } {
  if (inner !== globalThis.fetch || !(body instanceof Uint8Array)) return {};
  return {
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(body);
        controller.close();
      },
    }),
    duplex: 'half',
  };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
