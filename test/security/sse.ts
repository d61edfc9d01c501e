/** A server-sent-events reader over fetch: what an httpSubscriptionLink client sees, event by event. */
export interface SseEvent {
  event: string;
  data: string;
}

export class SseStream {
  private readonly events: SseEvent[] = [];
  private waiting: (() => void) | undefined;
  private ended = false;
  readonly done: Promise<void>;

  private constructor(
    readonly status: number,
    body: ReadableStream<Uint8Array>,
    private readonly abort: AbortController,
  ) {
    this.done = this.pump(body);
  }

  static async open(url: string, headers: Record<string, string>): Promise<SseStream> {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    return new SseStream(res.status, res.body!, abort);
  }

  private async pump(body: ReadableStream<Uint8Array>) {
    let buffer = '';
    const decoder = new TextDecoder();
    try {
      const reader = body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) event.data += line.slice(6);
          }
          if (block.startsWith(':')) continue;
          this.events.push(event);
          this.waiting?.();
        }
      }
    } catch {
      // aborted by close()
    } finally {
      this.ended = true;
      this.waiting?.();
    }
  }

  /** The next event other than pings, or `undefined` once the server ended the stream; throws after `timeoutMs`. */
  async next(timeoutMs = 15_000): Promise<SseEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = this.events.shift();
      if (event) {
        if (event.event === 'ping') continue;
        return event;
      }
      if (this.ended) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no server-sent event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          this.waiting = undefined;
          resolve();
        };
      });
    }
  }

  /** Events until one named `name` arrives (returned) or the stream ends (undefined). */
  async until(name: string, timeoutMs = 15_000): Promise<SseEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      if (!event || event.event === name) return event;
    }
  }

  close(): void {
    this.abort.abort();
  }
}
