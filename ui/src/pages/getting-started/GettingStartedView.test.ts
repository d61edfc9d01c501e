import { render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import GettingStartedView, { type GettingStartedData } from './GettingStartedView.svelte';

const registered: GettingStartedData = {
  api: {
    registered: true,
    title: 'Descriptra',
    baseUrl: 'https://api.descriptra.example',
    keyHeader: 'X-Descriptra-Key',
    keyScheme: 'header',
    example: { method: 'GET', path: '/products', summary: 'List products', body: undefined },
  },
  key: { id: 'storefront-prod', name: 'Storefront (production)', start: 'desc_sk_live_Ab12***' },
  limits: {
    planName: 'Growth',
    keyRateLimits: [{ limit: 100, windowSeconds: 60 }],
    workspaceRateLimits: [{ limit: 1000, windowSeconds: 60 }],
    monthlyCalls: 50_000,
    monthlyCredits: null,
    maxKeys: 25,
    maxWebhookEndpoints: 10,
  },
};

const code = (name: string) => screen.getByRole('region', { name }).querySelector('pre')!.textContent!;
const snippet = (label: string) => screen.getByLabelText(label).textContent!;

describe('getting started', () => {
  it("shows how to call the provider's API with the customer's base URL, header and masked key, in three languages", () => {
    render(GettingStartedView, { data: registered });
    expect(screen.getByText('GET /products').parentElement!.textContent).toContain('List products');
    expect(snippet('cURL example')).toBe('curl -X GET "https://api.descriptra.example/products" \\\n  -H \'X-Descriptra-Key: desc_sk_live_Ab12***\'');
    expect(snippet('JavaScript example')).toContain("const API_BASE_URL = 'https://api.descriptra.example';");
    expect(snippet('JavaScript example')).toContain("const API_KEY = 'desc_sk_live_Ab12***';");
    expect(snippet('JavaScript example')).toContain("'X-Descriptra-Key': API_KEY");
    expect(snippet('Python example')).toContain("response = requests.get(\n    f'{API_BASE_URL}/products',\n    headers=headers\n)");
    expect(screen.getByRole('link', { name: 'desc_sk_live_Ab12***' }).getAttribute('href')).toBe('#/keys/storefront-prod');
    expect(screen.queryByText(/has not registered its API/)).toBeNull();
    // One copy button per example.
    expect(screen.getAllByRole('button', { name: /^Copy / })).toHaveLength(5);
  });

  it('sends a bearer key as Authorization', () => {
    render(GettingStartedView, { data: { ...registered, api: { ...registered.api, keyScheme: 'bearer', keyHeader: 'Authorization' } } });
    expect(snippet('cURL example')).toContain("-H 'Authorization: Bearer desc_sk_live_Ab12***'");
    expect(snippet('JavaScript example')).toContain("'Authorization': `Bearer ${API_KEY}`");
    expect(snippet('Python example')).toContain("'Authorization': f'Bearer {API_KEY}'");
  });

  it("without a registered API, says so and falls back to Gatehouse's key check; without a key, a placeholder and a way to create one", () => {
    render(GettingStartedView, {
      data: {
        ...registered,
        api: { registered: false, title: 'Gatehouse', baseUrl: 'https://gate.example', keyHeader: 'x-api-key', keyScheme: 'header', example: { method: 'POST', path: '/v1/keys/verify', summary: 'Verify a key', body: { key: '<a key to check>' } } },
        key: null,
      },
      canCreateKey: true,
    });
    expect(screen.getByText(/provider has not registered its API/).getAttribute('role')).toBe('status');
    expect(snippet('cURL example')).toBe(
      'curl -X POST "https://gate.example/v1/keys/verify" \\\n  -H \'x-api-key: YOUR_API_KEY\' \\\n  -H "Content-Type: application/json" \\\n  -d \'{\n  "key": "<a key to check>"\n}\'',
    );
    expect(snippet('Python example')).toContain('json={\n        "key": "<a key to check>"\n    }');
    expect(screen.getByRole('link', { name: 'Create a key' }).getAttribute('href')).toBe('#/keys?new=1');
  });

  it('shows how to verify webhook signatures with standardwebhooks in JavaScript and Python', () => {
    render(GettingStartedView, { data: registered });
    const js = snippet('JavaScript webhook check');
    expect(js).toContain("import { Webhook } from 'standardwebhooks';");
    expect(js).toContain("new Webhook('whsec_YOUR_ENDPOINT_SECRET')");
    expect(js).toContain('webhook.verify(req.body, req.headers)');
    const py = snippet('Python webhook check');
    expect(py).toContain('from standardwebhooks.webhooks import Webhook');
    expect(py).toContain("Webhook('whsec_YOUR_ENDPOINT_SECRET')");
    expect(py).toContain('webhook.verify(request.get_data(), dict(request.headers))');
    expect(code('3. Verify webhook signatures')).toBe(js);
  });

  it("lists the plan's limits: rates, monthly quota, keys and endpoints allowed", () => {
    render(GettingStartedView, { data: registered });
    const limits = screen.getByRole('region', { name: 'Your limits' });
    const value = (term: string) => within(limits).getByText(term).nextElementSibling?.textContent;
    expect(within(limits).getByText(/Plan Growth/)).toBeTruthy();
    expect(value('Rate limit per key')).toBe('100/min');
    expect(value('Rate limit, all keys together')).toBe('1,000/min');
    expect(value('Monthly quota')).toBe('50,000 calls');
    expect(value('Keys allowed')).toBe('25 keys');
    expect(value('Webhook endpoints allowed')).toBe('10 endpoints');
    expect(within(limits).queryByText('Monthly credits')).toBeNull();
  });

  it('says unlimited where the plan sets no limit', () => {
    render(GettingStartedView, { data: { ...registered, limits: { planName: null, keyRateLimits: [], workspaceRateLimits: [], monthlyCalls: null, monthlyCredits: null, maxKeys: null, maxWebhookEndpoints: null } } });
    const limits = screen.getByRole('region', { name: 'Your limits' });
    expect(within(limits).getByText(/No plan/)).toBeTruthy();
    expect(within(limits).getByText('Monthly quota').nextElementSibling?.textContent).toBe('Unlimited');
    expect(within(limits).getByText('Rate limit per key').nextElementSibling?.textContent).toBe('None');
  });
});
