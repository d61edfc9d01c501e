import './embed.css';
import { trpc } from './trpc.js';

/** What the portal tells the page framing it (docs/portal.md, "Embedding"). */
export type EmbedMessage = { type: 'gatehouse:resize'; height: number } | { type: 'gatehouse:session-ended' };

/** Does a frame-ancestors source expression (`'self'`, `https://app.example`, `https://*.example:*`) allow `origin`? */
export function allows(source: string, origin: string, self: string): boolean {
  if (source === "'self'") return origin === self;
  const s = /^(https?):\/\/(\*\.)?([^/:]+)(?::(\d+|\*))?/.exec(source);
  const o = /^(https?):\/\/([^/:]+)(?::(\d+))?$/.exec(origin);
  if (!s || !o) return false;
  const [, scheme, wildcard, host, port] = s;
  const defaultPort = (p: string | undefined, sch: string) => p ?? (sch === 'https' ? '443' : '80');
  if (scheme !== o[1]) return false;
  if (wildcard ? !o[2]!.endsWith(`.${host}`) : o[2] !== host) return false;
  return port === '*' || defaultPort(port, scheme!) === defaultPort(o[3], o[1]!);
}

/**
 * Where to post: the parent's origin when the browser tells it (location.ancestorOrigins) and it is
 * allowed; otherwise each allowed origin written out in full, so only a parent that is one of them
 * can receive the message. Never '*'.
 */
export function targetOrigins(sources: string[], self: string, parent: string | undefined): string[] {
  if (parent !== undefined) return sources.some((s) => allows(s, parent, self)) ? [parent] : [];
  return sources.flatMap((s) => (s === "'self'" ? [self] : /^https?:\/\/[^/*]+(\/|$)/.test(s) ? [new URL(s).origin] : []));
}

export interface EmbedBridge {
  /** Called whenever the UI knows whether it has a session; the end of one (or none at all) is posted once. */
  sessionActive(active: boolean): void;
}

/**
 * The portal inside a provider's page: tells the parent its content height (on load and on every
 * change) and when the session ends, so the host can size the frame and mint a new link. Does
 * nothing unless framed.
 */
export function startEmbedBridge(win: Window = window): EmbedBridge {
  if (win.parent === win) return { sessionActive() {} };
  win.document.documentElement.dataset['embedded'] = '';
  let targets: string[] | undefined;
  const pending: EmbedMessage[] = [];
  const post = (message: EmbedMessage) => {
    if (!targets) return void pending.push(message);
    for (const origin of targets) win.parent.postMessage(message, origin);
  };
  trpc.session.embedding.query().then(
    ({ frameAncestors }) => {
      // Firefox has no ancestorOrigins.
      targets = targetOrigins(frameAncestors, win.location.origin, (win.location.ancestorOrigins as DOMStringList | undefined)?.[0]);
      for (const message of pending.splice(0)) post(message);
    },
    () => (targets = []),
  );

  let height = -1;
  const root = win.document.documentElement;
  // The root's box holds every margin of the content and, unlike scrollHeight, never the frame's own height.
  new ResizeObserver(() => {
    const now = Math.ceil(root.getBoundingClientRect().height);
    if (now === height) return;
    height = now;
    post({ type: 'gatehouse:resize', height });
  }).observe(root);

  let active: boolean | undefined;
  return {
    sessionActive(now) {
      if (now === active) return;
      active = now;
      if (!now) post({ type: 'gatehouse:session-ended' });
    },
  };
}
