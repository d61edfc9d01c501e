// Usage reports buffered and sent to `POST /v1/usage` in batches: a request never waits on it.
import type { GatehouseRest, UsageReport } from '@gatehouse/client/rest';
import { GatehouseError } from '@gatehouse/client/rest';
import { EncodedBatch } from './encoded-batch.js';

export interface UsageReporter {
  report(r: UsageReport): void;
  /** Sends every buffered report now. */
  flush(): Promise<void>;
  /** Stops the timer and sends what is left. */
  close(): Promise<void>;
}

/**
 * Reports are kept as batches of `batchSize` (the one being filled last), each report encoded as
 * it arrives (encoded-batch.ts): a report is one row written, a full batch is sent as it is, and
 * beyond `maxBuffer` (Gatehouse unreachable for long) the oldest reports are dropped by moving a
 * batch's start, not by shifting an array. Every step is O(1) per report however large the buffer
 * grows; shifting one array of 10,000 per report, as this once did, cost more than the request it reported.
 */
export function usageReporter(rest: GatehouseRest, opts: { batchSize: number; maxBuffer: number; flushIntervalMs: number; onError: (err: Error) => void }): UsageReporter {
  const { batchSize, maxBuffer, onError } = opts;
  /** Full batches waiting, oldest first from `head`. */
  const batches: (EncodedBatch | undefined)[] = [];
  let head = 0;
  let filling = new EncodedBatch(batchSize);
  let held = 0;
  let dropped = 0;
  let sending: Promise<void> | undefined;

  /** Drops the oldest reports beyond maxBuffer: whole batches, then the start of the next. */
  function trim() {
    while (held > maxBuffer) {
      const oldest = batches[head] ?? filling;
      const n = Math.min(held - maxBuffer, oldest.length);
      if (n === 0) return; // nothing left to drop (cannot happen while `held` is right)
      oldest.dropOldest(n);
      held -= n;
      dropped += n;
      if (oldest !== filling && oldest.length === 0) {
        oldest.release();
        batches[head++] = undefined;
      }
    }
  }

  function enqueue(batch: EncodedBatch, first: boolean) {
    if (!first) batches.push(batch);
    else if (head > 0) batches[--head] = batch;
    else batches.unshift(batch);
    // Reclaim the sent slots now and then rather than shift on every send.
    if (head > 64 && head * 2 > batches.length) {
      batches.splice(0, head);
      head = 0;
    }
  }

  /** Sends the queued batches, and the one being filled when `all`. */
  async function send(all: boolean): Promise<void> {
    if (all && filling.length > 0) {
      enqueue(filling, false);
      filling = new EncodedBatch(batchSize);
    }
    if (dropped > 0) {
      onError(new Error(`gatehouse: usage buffer full (maxBuffer ${maxBuffer}): the ${dropped} oldest reports were dropped`));
      dropped = 0;
    }
    while (head < batches.length) {
      const batch = batches[head]!;
      batches[head++] = undefined;
      held -= batch.length;
      const keep = () => {
        enqueue(batch, true);
        held += batch.length;
        trim();
      };
      try {
        const result = await rest.reportUsageJson(batch.body());
        batch.release();
        if (result.rejected > 0) onError(new Error(`gatehouse: ${result.rejected} usage reports rejected: ${result.errors[0]?.message ?? 'see the response'}`));
      } catch (err) {
        if (!(err instanceof GatehouseError)) {
          onError(new Error(`gatehouse: usage report failed: ${(err as Error).message}`));
          keep(); // for the next tick
          return;
        }
        onError(new Error(`gatehouse: usage report answered ${err.status}`));
        // A refusal (bad key, missing usage:write) will not fix itself by retrying: drop the batch.
        if (err.status >= 500) {
          keep();
          return;
        }
        batch.release();
      }
    }
  }

  function start(all: boolean): Promise<void> {
    const s = send(all).finally(() => {
      sending = undefined;
    });
    sending = s;
    return s;
  }

  /** Everything buffered, after a send already under way. */
  function flush(): Promise<void> {
    return sending ? sending.then(flush) : start(true);
  }

  const timer = setInterval(() => void flush(), opts.flushIntervalMs);
  // A pending report must not keep the service's process alive.
  (timer as { unref?: () => void }).unref?.();

  return {
    report(r) {
      filling.push(r);
      held++;
      if (held > maxBuffer) trim();
      if (!filling.full) return;
      enqueue(filling, false);
      filling = new EncodedBatch(batchSize);
      // Full batches only: the rest waits for the timer, so a busy service sends few full
      // batches rather than a small one per round trip.
      if (!sending) void start(false);
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
