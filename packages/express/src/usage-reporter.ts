// Usage reports buffered and sent to `POST /v1/usage` in batches: a request never waits on it.
import type { GatehouseRest, UsageReport } from '@gatehouse/client/rest';
import { GatehouseError } from '@gatehouse/client/rest';

export interface UsageReporter {
  report(r: UsageReport): void;
  /** Sends every buffered report now. */
  flush(): Promise<void>;
  /** Stops the timer and sends what is left. */
  close(): Promise<void>;
}

export function usageReporter(rest: GatehouseRest, opts: { batchSize: number; maxBuffer: number; flushIntervalMs: number; onError: (err: Error) => void }): UsageReporter {
  const { batchSize, maxBuffer, onError } = opts;
  let buffer: UsageReport[] = [];
  let sending: Promise<void> | undefined;

  /** Sends batches while at least `min` reports wait. */
  async function send(min: number): Promise<void> {
    while (buffer.length >= min) {
      const batch = buffer.slice(0, batchSize);
      try {
        const result = await rest.reportUsage(batch);
        buffer = buffer.slice(batch.length);
        if (result.rejected > 0) onError(new Error(`gatehouse: ${result.rejected} usage reports rejected: ${result.errors[0]?.message ?? 'see the response'}`));
      } catch (err) {
        if (!(err instanceof GatehouseError)) {
          onError(new Error(`gatehouse: usage report failed: ${(err as Error).message}`));
          return; // kept for the next tick
        }
        onError(new Error(`gatehouse: usage report answered ${err.status}`));
        buffer = buffer.slice(batch.length);
        // A refusal (bad key, missing usage:write) will not fix itself by retrying: drop the batch.
        if (err.status >= 500) {
          buffer = [...batch, ...buffer].slice(0, maxBuffer);
          return;
        }
      }
    }
  }

  function start(min: number): Promise<void> {
    const s = send(min).finally(() => {
      sending = undefined;
    });
    sending = s;
    return s;
  }

  /** Everything buffered, after a send already under way. */
  function flush(): Promise<void> {
    return sending ? sending.then(flush) : start(1);
  }

  const timer = setInterval(() => void flush(), opts.flushIntervalMs);
  // A pending report must not keep the service's process alive.
  (timer as { unref?: () => void }).unref?.();

  return {
    report(r) {
      if (buffer.length >= maxBuffer) buffer.shift();
      buffer.push(r);
      // Full batches only: the rest waits for the timer, so a busy service sends few full
      // batches rather than a small one per round trip.
      if (buffer.length >= batchSize && !sending) void start(batchSize);
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
