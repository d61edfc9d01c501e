import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import ProviderApiView from './ProviderApiView.svelte';

const registered = { title: 'Descriptra API', version: '2.1.0', baseUrl: 'https://api.descriptra.example', keyHeader: 'x-descriptra-key', keyScheme: 'header' as const, operationCount: 12, updatedAt: '2026-11-30T10:00:00.000Z', updatedBy: 'bootstrap' };

describe('operator console: provider API', () => {
  it('shows the registered API: title, version, operation count, where the key goes', () => {
    render(ProviderApiView, { current: registered, register: vi.fn(), remove: vi.fn() });
    const facts = screen.getByTestId('registered').textContent!;
    expect(facts).toContain('Descriptra API');
    expect(facts).toContain('v2.1.0');
    expect(facts).toContain('12');
    expect(facts).toContain('x-descriptra-key: <key>');
  });

  it('submits the pasted document and base URL, and lists the problems by path when refused', async () => {
    const register = vi.fn(async () => ({ ok: false as const, message: 'document: …', field: 'document', problems: [{ path: '/info', message: "must have required property 'version'" }, { path: '/components/schemas/Thing/$ref', message: "external reference 'https://x.example/a.yaml' is not fetched" }] }));
    render(ProviderApiView, { current: null, register, remove: vi.fn() });
    expect(screen.getByText(/No API registered/)).toBeTruthy();
    await fireEvent.input(screen.getByLabelText(/or paste it/), { target: { value: 'openapi: 3.1.0' } });
    await fireEvent.input(screen.getByLabelText('Base URL'), { target: { value: 'https://api.descriptra.example' } });
    await fireEvent.submit(screen.getByRole('button', { name: 'Register' }).closest('form')!);
    expect(register).toHaveBeenCalledWith({ document: 'openapi: 3.1.0', base_url: 'https://api.descriptra.example' });
    const problems = await screen.findByTestId('problems');
    expect([...problems.querySelectorAll('li')].map((li) => li.textContent)).toEqual([
      "/info: must have required property 'version'",
      "/components/schemas/Thing/$ref: external reference 'https://x.example/a.yaml' is not fetched",
    ]);
  });
});
