import type pg from 'pg';

/**
 * `last_used_at` without a write per request: uses are remembered in memory and written every
 * few seconds in one statement for all keys touched since. Losing a few seconds of touches on a
 * crash is acceptable for a "last used" timestamp.
 */
export class LastUsedTouches {
  /** Key pk → epoch ms: a number, not a Date, so a touch (two a verification) allocates nothing. */
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly onError: (err: unknown) => void,
    private readonly onQuery: () => void = () => {},
  ) {}

  start(everyMs: number) {
    this.timer = setInterval(() => void this.flush(), everyMs);
    this.timer.unref();
  }

  touch(keyPk: string, at = Date.now()) {
    this.pending.set(keyPk, at);
  }

  /** Writes what is pending; concurrent calls queue behind each other. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write() {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      this.onQuery();
      // raw SQL: one update from unnest() of two arrays for every key touched, on the verifier's own pg pool (no EntityManager there)
      await this.pool.query(
        `update api_key k set last_used_at = v.at
           from unnest($1::text[], $2::timestamptz[]) as v(pk, at)
          where k.pk = v.pk and (k.last_used_at is null or k.last_used_at < v.at)`,
        [[...batch.keys()], Array.from(batch.values(), (ms) => new Date(ms))],
      );
    } catch (err) {
      // Keep the touches for the next attempt unless a newer one arrived meanwhile.
      for (const [pk, at] of batch) if (!this.pending.has(pk)) this.pending.set(pk, at);
      this.onError(err);
    }
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
