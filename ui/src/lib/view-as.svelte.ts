import { router } from './router.svelte.js';
import { session } from './session.svelte.js';
import { setViewAsHeader, trpc } from './trpc.js';

/**
 * "View as customer": from here on every query carries x-gatehouse-view-as, so the customer's own
 * pages (dashboard, keys, usage, webhooks, logs) show that workspace, read-only; the server audits
 * the view. `session.me` becomes the viewed principal as the server describes it.
 */
export async function startViewAs(workspaceId: string, name: string): Promise<void> {
  const operator = session.operatorMe ?? session.me;
  setViewAsHeader(workspaceId);
  try {
    const viewed = await trpc.session.me.query();
    session.operatorMe = operator;
    session.viewingAs = { workspaceId, name };
    session.me = viewed;
    router.go('/');
  } catch (err) {
    setViewAsHeader(null);
    throw err;
  }
}

/** Back to the operator's own session, on the workspace's console page. */
export function exitViewAs(): void {
  const viewed = session.viewingAs;
  setViewAsHeader(null);
  if (session.operatorMe) session.me = session.operatorMe;
  session.operatorMe = null;
  session.viewingAs = null;
  router.go(viewed ? `/operator/workspaces/${encodeURIComponent(viewed.workspaceId)}` : '/operator');
}
