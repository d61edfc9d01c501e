import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import ProviderPlayground, { type PlaygroundApi, type SendAnswer } from './ProviderPlayground.svelte';

const thing = { type: 'object', required: ['name', 'parent'], properties: { id: { type: 'string', readOnly: true }, name: { type: 'string', example: 'lamp' }, parent: { $ref: '#/components/schemas/Thing' } } };
const api: PlaygroundApi = {
  title: 'Descriptra API',
  version: '2.1.0',
  baseUrl: 'https://api.descriptra.example/v1',
  keyHeader: 'x-descriptra-key',
  keyScheme: 'header',
  components: { schemas: { Thing: thing } },
  groups: [
    {
      tag: 'things',
      operations: [
        {
          operationId: 'getThing',
          method: 'GET',
          path: '/things/{id}',
          summary: 'One thing',
          description: '',
          tags: ['things'],
          parameters: [
            { name: 'id', in: 'path', required: true, type: 'string', description: '' },
            { name: 'verbose', in: 'query', required: false, type: 'boolean', description: 'More fields' },
          ],
          body: null,
        },
        { operationId: 'createThing', method: 'POST', path: '/things', summary: 'Create a thing', description: '', tags: ['things'], parameters: [], body: { required: true, contentType: 'application/json', schema: { $ref: '#/components/schemas/Thing' } } },
      ],
    },
    { tag: 'billing', operations: [{ operationId: 'invoices', method: 'GET', path: '/invoices', summary: 'Invoices', description: '', tags: ['billing'], parameters: [], body: null }] },
  ],
};
const keys = [{ id: 'key_prod', name: 'Production', start: 'desc_sk_live_Ab12***' }];
const answer: SendAnswer = { status: 200, headers: { 'content-type': 'application/json', 'x-request-id': 'req_1' }, duration_ms: 42, body: '{"id":"42","name":"lamp"}', truncated: false };

describe('the provider API in the playground', () => {
  it('groups operations by tag and filters them by a search', async () => {
    render(ProviderPlayground, { api, keys, send: vi.fn() });
    const nav = screen.getByRole('navigation', { name: 'Descriptra API operations' });
    expect([...nav.querySelectorAll('h2')].map((h) => h.textContent)).toEqual(['things', 'billing']);
    await fireEvent.input(screen.getByLabelText('Search operations'), { target: { value: 'invoice' } });
    expect([...nav.querySelectorAll('button')].map((b) => b.textContent)).toEqual([expect.stringMatching(/^GET \/invoices\s*— Invoices$/)]);
    await fireEvent.input(screen.getByLabelText('Search operations'), { target: { value: 'nothing-like-it' } });
    expect(nav.textContent).toContain('No operation matches');
  });

  it('sends the form as the pasted key and shows status, time, headers and the pretty body', async () => {
    const send = vi.fn(async () => answer);
    render(ProviderPlayground, { api, keys, send });
    await fireEvent.input(screen.getByLabelText(/^id/), { target: { value: '42' } });
    await fireEvent.input(screen.getByLabelText(/^verbose/), { target: { value: 'true' } });
    await fireEvent.change(screen.getByLabelText('Key'), { target: { value: 'key_prod' } });
    await fireEvent.input(screen.getByLabelText(/^Secret of Production/), { target: { value: 'desc_sk_live_secret' } });
    await fireEvent.submit(screen.getByRole('button', { name: 'Send request' }).closest('form')!);
    expect(send).toHaveBeenCalledWith({ operation_id: 'getThing', path_params: { id: '42' }, query: { verbose: 'true' }, key: 'desc_sk_live_secret' });
    expect((await screen.findByTestId('provider-status')).textContent).toBe('200');
    expect(screen.getByTestId('provider-body').textContent).toBe(JSON.stringify({ id: '42', name: 'lamp' }, null, 2));
    expect(screen.getByText('Headers (2)')).toBeTruthy();
    expect(screen.getByText(/in 42/)).toBeTruthy();
  });

  it('prefills the example body from the schema (references followed, cycles stopped, read-only left out) and copies as cURL, fetch and requests', async () => {
    render(ProviderPlayground, { api, keys, send: vi.fn() });
    await fireEvent.click(screen.getByRole('button', { name: /POST \/things/ }));
    const body = screen.getByLabelText(/^Body/) as HTMLTextAreaElement;
    // `id` is read-only; `parent` is a Thing again: the cycle stops there rather than nesting.
    expect(JSON.parse(body.value)).toEqual({ name: 'lamp' });
    // No key typed: the masked start of the chosen key, else a placeholder, never a secret.
    const code = () => screen.getByLabelText(/^Request as/).textContent!;
    expect(code()).toContain('curl -X POST "https://api.descriptra.example/v1/things"');
    expect(code()).toContain("-H 'x-descriptra-key: YOUR_API_KEY'");
    await fireEvent.change(screen.getByLabelText('Key'), { target: { value: 'key_prod' } });
    expect(code()).toContain("-H 'x-descriptra-key: desc_sk_live_Ab12***'");
    await fireEvent.click(screen.getByRole('button', { name: 'JavaScript' }));
    expect(code()).toContain("const API_BASE_URL = 'https://api.descriptra.example/v1';");
    expect(code()).toContain("'x-descriptra-key': API_KEY");
    await fireEvent.click(screen.getByRole('button', { name: 'Python' }));
    expect(code()).toContain('response = requests.post(');
  });

  it('sends nothing while blocked, and says why', () => {
    render(ProviderPlayground, { api, keys, send: vi.fn(), blockedReason: 'While you view a customer, requests cannot be sent.' });
    const button = screen.getByRole('button', { name: 'Send request' }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.getAttribute('aria-describedby')).toBe('send-blocked');
    expect(screen.getByText(/While you view a customer/)).toBeTruthy();
  });

  it('shows why a send failed', async () => {
    render(ProviderPlayground, { api, keys, send: vi.fn(async () => Promise.reject(new Error("key: not an active key of this workspace"))) });
    await fireEvent.input(screen.getByLabelText(/^id/), { target: { value: '1' } });
    await fireEvent.input(screen.getByLabelText(/^Secret/), { target: { value: 'x' } });
    await fireEvent.submit(screen.getByRole('button', { name: 'Send request' }).closest('form')!);
    expect((await screen.findByRole('alert')).textContent).toContain('not an active key of this workspace');
  });
});
