import { fireEvent, render, screen } from '@testing-library/svelte';
import { createRawSnippet } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { session } from '../lib/session.svelte.js';
import Layout from './Layout.svelte';
import { applyBranding } from '../lib/branding.svelte.js';

const children = createRawSnippet(() => ({ render: () => '<p>page</p>' }));

describe('layout', () => {
  afterEach(() => {
    session.me = null;
    session.viewingAs = null;
  });

  it('names the workspace and key, and links every section', () => {
    session.me = { workspaceId: 'acme', keyId: 'admin', scopes: ['keys:write'], canWrite: true, expiresAt: null };
    render(Layout, { children, onsignout: vi.fn() });
    expect(screen.getByText('acme')).toBeTruthy();
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect([...nav.querySelectorAll('a')].map((a) => a.textContent)).toEqual(['Dashboard', 'Getting started', 'Keys', 'Webhooks', 'Usage', 'Playground', 'Logs', 'Audit log', 'OAuth settings']);
    expect(screen.queryByText(/read-only/i)).toBeNull();
    expect(screen.getByRole('button', { name: 'Sign out' })).toBeTruthy();
  });

  it('carries the branding: the product’s name and logo, and its support link', () => {
    applyBranding({ productName: 'Descriptra', keyPrefix: 'desc', accentColor: '#7c3aed', logoUrl: null, logoSrc: '/branding/logo?v=1', supportUrl: 'https://help.descriptra.example', updatedAt: null });
    session.me = { workspaceId: 'acme', keyId: 'admin', scopes: ['keys:write'], canWrite: true, expiresAt: null };
    const { container } = render(Layout, { children, onsignout: vi.fn() });
    const brand = container.querySelector('aside .brand')!;
    expect(brand.textContent?.trim()).toBe('Descriptra');
    expect(brand.querySelector('img')?.getAttribute('src')).toBe('/branding/logo?v=1');
    expect(screen.getByRole('link', { name: 'Support' }).getAttribute('href')).toBe('https://help.descriptra.example');
    applyBranding({ productName: 'Gatehouse', keyPrefix: null, accentColor: null, logoUrl: null, logoSrc: null, supportUrl: null, updatedAt: null });
  });

  it('a customer-portal session shows the person, not a key', () => {
    session.me = {
      workspaceId: 'acme',
      keyId: 'user:u_ana',
      scopes: ['keys:write'],
      canWrite: true,
      expiresAt: null,
      person: { id: 'u_ana', email: 'ana@acme.example', name: 'Ana Ruiz', role: 'admin' },
      returnUrl: null,
    };
    render(Layout, { children, onsignout: vi.fn() });
    expect(screen.getByText('Ana Ruiz')).toBeTruthy();
    expect(screen.getByText(/ana@acme\.example/)).toBeTruthy();
    expect(screen.queryByText('user:u_ana')).toBeNull();
  });

  it('tells a read-only user, once, on every page, that nothing can be changed', () => {
    session.me = { workspaceId: 'acme', keyId: 'analytics', scopes: ['keys:read'], canWrite: false, expiresAt: null };
    render(Layout, { children, onsignout: vi.fn() });
    expect(screen.getByText('Read-only')).toBeTruthy();
    expect(screen.getByText(/you can see everything here but change nothing/)).toBeTruthy();
  });

  it('an operator gets the console in its own section of the sidebar; a customer does not', () => {
    session.me = { workspaceId: 'default', keyId: 'bootstrap', scopes: ['keys:write', 'operator'], canWrite: true, expiresAt: null };
    const view = render(Layout, { children, onsignout: vi.fn() });
    const console = screen.getByRole('navigation', { name: 'Operator' });
    expect([...console.querySelectorAll('a')].map((a) => a.textContent)).toEqual(['Customers', 'Plans', 'Limit requests', 'Provider usage', 'Provider API', 'Branding', 'Signing keys']);
    view.unmount();
    session.me = { workspaceId: 'acme', keyId: 'admin', scopes: ['keys:write', 'limits:write'], canWrite: true, expiresAt: null };
    render(Layout, { children, onsignout: vi.fn() });
    expect(screen.queryByRole('navigation', { name: 'Operator' })).toBeNull();
  });

  it('a support key holding limits:approve alone sees the limit-request queue only', () => {
    session.me = { workspaceId: 'default', keyId: 'support', scopes: ['keys:read', 'limits:approve'], canWrite: false, expiresAt: null };
    render(Layout, { children, onsignout: vi.fn() });
    const console = screen.getByRole('navigation', { name: 'Operator' });
    expect([...console.querySelectorAll('a')].map((a) => a.textContent)).toEqual(['Limit requests']);
  });

  it('viewing as a customer: a read-only banner naming the customer, with Exit, and no console', () => {
    session.me = { workspaceId: 'acme', keyId: 'bootstrap', scopes: ['keys:read', 'usage:read'], canWrite: false, expiresAt: null };
    session.viewingAs = { workspaceId: 'acme', name: 'Acme Corp' };
    render(Layout, { children, onsignout: vi.fn() });
    expect(screen.getByRole('status').textContent).toContain('Viewing Acme Corp as customer (read-only)');
    expect(screen.getByRole('button', { name: 'Exit' })).toBeTruthy();
    expect(screen.queryByRole('navigation', { name: 'Operator' })).toBeNull();
  });

  it('on a phone the sidebar is a menu: its button opens and Escape closes it, handing focus back', async () => {
    session.me = { workspaceId: 'acme', keyId: 'admin', scopes: ['keys:write'], canWrite: true, expiresAt: null };
    render(Layout, { children, onsignout: vi.fn() });
    const menu = screen.getByRole('button', { name: 'Menu' });
    expect(menu.getAttribute('aria-expanded')).toBe('false');
    expect(menu.getAttribute('aria-controls')).toBe('sidebar');
    await fireEvent.click(menu);
    expect(menu.getAttribute('aria-expanded')).toBe('true');
    expect(document.getElementById('sidebar')!.classList.contains('open')).toBe(true);
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(menu.getAttribute('aria-expanded')).toBe('false');
    expect(document.activeElement).toBe(menu);
  });
});
