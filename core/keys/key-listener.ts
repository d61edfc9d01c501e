import pg from 'pg';
import { connectionErrorFields } from '../../db/connection-error.js';
import type { Logger } from '../log.js';
import { KEY_CHANGED_CHANNEL } from './notify.js';

export interface KeyListenerHandlers {
  /** A key changed (payload = its pk). */
  onChange(pk: string): void;
  /** LISTEN is (re-)established: anything sent while it was down was missed. */
  onConnected(): void;
  /** The connection dropped: until onConnected, no cached answer may be trusted. */
  onDisconnected(): void;
}

export interface KeyListener {
  /** Resolves once the first LISTEN succeeded. */
  ready: Promise<void>;
  readonly connected: boolean;
  /** How many times LISTEN has been established (1 after start, +1 per reconnect). */
  readonly connections: number;
  stop(): Promise<void>;
}

/**
 * A dedicated connection (a pooled one would be handed to other queries and lose the LISTEN)
 * that hears KEY_CHANGED_CHANNEL and reconnects with backoff when PostgreSQL goes away.
 */
export function startKeyListener(databaseUrl: string, handlers: KeyListenerHandlers, log: Logger): KeyListener {
  let client: pg.Client | undefined;
  let stopped = false;
  let connected = false;
  let attempt = 0;
  let connections = 0;
  let timer: NodeJS.Timeout | undefined;
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));

  const lost = (c: pg.Client, err?: unknown) => {
    if (client !== c) return;
    client = undefined;
    if (connected) {
      connected = false;
      handlers.onDisconnected();
    }
    c.removeAllListeners('notification');
    c.on('error', () => {});
    void c.end().catch(() => {});
    if (stopped) return;
    const delay = Math.min(5_000, 100 * 2 ** attempt++);
    if (err) log.warn({ error: connectionErrorFields(err), retryInMs: delay }, 'key change listener lost its connection');
    timer = setTimeout(connect, delay);
  };

  const connect = () => {
    timer = undefined;
    if (stopped) return;
    const c = new pg.Client({ connectionString: databaseUrl, keepAlive: true, application_name: 'gatehouse-key-listener' });
    client = c;
    c.on('notification', (msg) => {
      if (msg.channel === KEY_CHANGED_CHANNEL && msg.payload) handlers.onChange(msg.payload);
    });
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    c.connect()
      .then(() => c.query(`listen ${pg.escapeIdentifier(KEY_CHANGED_CHANNEL)}`))
      .then(() => {
        if (client !== c) return;
        attempt = 0;
        connections++;
        connected = true;
        handlers.onConnected();
        resolveReady();
      })
      .catch((err: unknown) => lost(c, err));
  };

  connect();
  return {
    ready,
    get connected() {
      return connected;
    },
    get connections() {
      return connections;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      connected = false;
      resolveReady();
      if (c) await c.end().catch(() => {});
    },
  };
}
