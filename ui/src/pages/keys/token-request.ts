/**
 * A key's OAuth token request (client credentials, RFC 6749 §4.4) in cURL, JavaScript and Python,
 * in the trebol seed's style: the base URL and credentials as constants at the top, then the call.
 * The secret is a placeholder: it is shown once, at creation, never again.
 */
export interface TokenRequest {
  baseUrl: string;
  clientId: string;
}

export const SECRET_PLACEHOLDER = 'YOUR_API_KEY';

export type TokenLanguage = 'curl' | 'javascript' | 'python';
export const TOKEN_LANGUAGES: { id: TokenLanguage; label: string }[] = [
  { id: 'curl', label: 'cURL' },
  { id: 'javascript', label: 'JavaScript' },
  { id: 'python', label: 'Python' },
];

function curl(t: TokenRequest): string {
  return [
    `curl -X POST "${t.baseUrl}/oauth/token"`,
    `  -u "${t.clientId}:${SECRET_PLACEHOLDER}"`,
    `  -H "Content-Type: application/x-www-form-urlencoded"`,
    `  -d "grant_type=client_credentials"`,
  ].join(' \\\n');
}

function javascript(t: TokenRequest): string {
  return [
    `const API_BASE_URL = '${t.baseUrl}';`,
    `const CLIENT_ID = '${t.clientId}';`,
    `const API_KEY = '${SECRET_PLACEHOLDER}';`,
    ``,
    `// Exchange the key for a short-lived access token`,
    `async function getAccessToken() {`,
    `  const response = await fetch(\`\${API_BASE_URL}/oauth/token\`, {`,
    `    method: 'POST',`,
    `    headers: {`,
    `      'Authorization': 'Basic ' + btoa(\`\${CLIENT_ID}:\${API_KEY}\`),`,
    `      'Content-Type': 'application/x-www-form-urlencoded'`,
    `    },`,
    `    body: new URLSearchParams({ grant_type: 'client_credentials' })`,
    `  });`,
    ``,
    `  const data = await response.json();`,
    `  console.log('Token expires in', data.expires_in, 'seconds');`,
    `  return data.access_token;`,
    `}`,
  ].join('\n');
}

function python(t: TokenRequest): string {
  return [
    `import requests`,
    ``,
    `API_BASE_URL = '${t.baseUrl}'`,
    `CLIENT_ID = '${t.clientId}'`,
    `API_KEY = '${SECRET_PLACEHOLDER}'`,
    ``,
    `# Exchange the key for a short-lived access token`,
    `def get_access_token():`,
    `    response = requests.post(`,
    `        f'{API_BASE_URL}/oauth/token',`,
    `        auth=(CLIENT_ID, API_KEY),`,
    `        data={'grant_type': 'client_credentials'}`,
    `    )`,
    `    return response.json()['access_token']`,
  ].join('\n');
}

export const TOKEN_REQUEST: Record<TokenLanguage, (t: TokenRequest) => string> = { curl, javascript, python };
