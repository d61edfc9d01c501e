import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import TokenRequest from './TokenRequest.svelte';

const props = { clientId: 'ci_0123456789abcdef0123456789abcdef', baseUrl: 'https://gate.example' };
const shown = () => screen.getByRole('region', { name: 'OAuth client' }).querySelector('pre')!.textContent;

describe("a key's OAuth client panel", () => {
  it('shows the client id with a copy button and the token request in cURL, JavaScript and Python', async () => {
    render(TokenRequest, props);
    expect(screen.getByText(props.clientId)).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Copy client id' })).toBeTruthy();

    expect(shown()).toBe(
      'curl -X POST "https://gate.example/oauth/token" \\\n' +
        '  -u "ci_0123456789abcdef0123456789abcdef:YOUR_API_KEY" \\\n' +
        '  -H "Content-Type: application/x-www-form-urlencoded" \\\n' +
        '  -d "grant_type=client_credentials"',
    );

    await fireEvent.click(screen.getByRole('button', { name: 'JavaScript' }));
    expect(shown()).toContain("const CLIENT_ID = 'ci_0123456789abcdef0123456789abcdef';");
    expect(shown()).toContain("'Authorization': 'Basic ' + btoa(`${CLIENT_ID}:${API_KEY}`),");
    expect(shown()).toContain("body: new URLSearchParams({ grant_type: 'client_credentials' })");
    expect(screen.getByRole('button', { name: 'Copy JavaScript' })).toBeTruthy();

    await fireEvent.click(screen.getByRole('button', { name: 'Python' }));
    expect(shown()).toContain("API_BASE_URL = 'https://gate.example'");
    expect(shown()).toContain('auth=(CLIENT_ID, API_KEY),');
    expect(shown()).toContain("data={'grant_type': 'client_credentials'}");
    expect(screen.getByRole('button', { name: 'Python' }).getAttribute('aria-pressed')).toBe('true');
  });
});
