import { describe, expect, it } from 'vitest';
import { matchRoute, routePath, ROUTES } from './routes.js';

describe('the route table', () => {
  it('matches each page with its id, and nothing else', () => {
    expect(matchRoute([])?.route.name).toBe('dashboard');
    expect(matchRoute(['keys', 'api-key-prod'])).toMatchObject({ route: { name: 'key' }, id: 'api-key-prod' });
    expect(matchRoute(['operator', 'workspaces', 'acme'])).toMatchObject({ route: { name: 'operator-workspace', operator: true }, id: 'acme' });
    expect(matchRoute(['operator', 'requests'])?.route.name).toBe('operator-requests');
    expect(matchRoute(['nope'])).toBeUndefined();
    expect(matchRoute(['keys', 'a', 'b'])).toBeUndefined();
  });

  it('builds each address back, and every name is unique', () => {
    expect(routePath('keys/:id', 'a b')).toBe('/keys/a%20b');
    expect(routePath('')).toBe('/');
    expect(new Set(ROUTES.map((r) => r.name)).size).toBe(ROUTES.length);
    for (const r of ROUTES) expect(matchRoute(routePath(r.pattern, 'x').split('/').filter(Boolean))?.route.name).toBe(r.name);
  });
});
