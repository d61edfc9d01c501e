import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { key } from '../../../test/fixtures.js';
import KeyDetailView from './KeyDetailView.svelte';
import type { AuditEntry } from './types.js';

const audit = [
  { id: 'aud_1', workspaceId: 'default', actorWorkspaceId: 'default', actorKeyId: 'bootstrap', action: 'key.updated', targetType: 'api_key', targetId: 'key_prod', ip: '', changes: {}, createdAt: '2026-11-23T09:00:00.000Z' },
] as AuditEntry[];
const props = (over: Record<string, unknown>) => ({ key: key(), rotation: null, audit, canWrite: true, onrotate: vi.fn(), onrevoke: vi.fn(), onendgrace: vi.fn(), onextend: vi.fn(), ...over });

describe("a key's audit trail", () => {
  it('pages to older entries while there are more, and offers the settings editor', async () => {
    const onmoreaudit = vi.fn();
    const onedit = vi.fn();
    render(KeyDetailView, props({ moreAudit: true, onmoreaudit, onedit }));
    await fireEvent.click(screen.getByRole('button', { name: 'Load older entries' }));
    expect(onmoreaudit).toHaveBeenCalledOnce();
    await fireEvent.click(screen.getByRole('button', { name: 'Edit settings' }));
    expect(onedit).toHaveBeenCalledOnce();
  });

  it('offers nothing more on the last page, and no edit to a read-only user', () => {
    render(KeyDetailView, props({ moreAudit: false, onmoreaudit: vi.fn(), onedit: vi.fn(), canWrite: false }));
    expect(screen.queryByRole('button', { name: 'Load older entries' })).toBeNull();
    expect((screen.getByRole('button', { name: 'Edit settings' }) as HTMLButtonElement).disabled).toBe(true);
  });
});
