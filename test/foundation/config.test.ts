import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../core/config.js';

describe('configuration', () => {
  it('gives every variable a working default', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.GATEHOUSE_DATA_DIR).toBe('.data');
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.TEMPORAL_ADDRESS).toBeUndefined();
    expect(c.GATEHOUSE_USAGE_RETENTION_DAYS).toBe(90);
  });

  it.each([
    ['PORT', 'abc', /PORT: expected number/],
    ['PORT', '70000', /PORT: expected a number <= 65535/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: expected a postgres/],
    ['TEMPORAL_ADDRESS', 'http://x:1', /TEMPORAL_ADDRESS: expected host:port/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: expected one of fatal/],
    ['GATEHOUSE_BOOTSTRAP_KEY', 'short-secret', /GATEHOUSE_BOOTSTRAP_KEY: expected at least 32 characters/],
  ])('names %s when its value %s is bad', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('reads GATEHOUSE_FRAME_ANCESTORS, the old name of GATEHOUSE_PORTAL_FRAME_ANCESTORS; the new name wins', () => {
    expect(loadConfig({ GATEHOUSE_FRAME_ANCESTORS: 'https://old.example' }).GATEHOUSE_PORTAL_FRAME_ANCESTORS).toBe('https://old.example');
    expect(loadConfig({ GATEHOUSE_FRAME_ANCESTORS: 'https://old.example', GATEHOUSE_PORTAL_FRAME_ANCESTORS: 'https://new.example' }).GATEHOUSE_PORTAL_FRAME_ANCESTORS).toBe('https://new.example');
    expect(loadConfig({}).GATEHOUSE_PORTAL_FRAME_ANCESTORS).toBe('');
  });

  it('never echoes a secret value in its error', () => {
    const secret = 'not-long-enough-secret';
    try {
      loadConfig({ GATEHOUSE_BOOTSTRAP_KEY: secret });
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toContain(secret);
    }
  });

  it('stops `npm run api` with one clear line for a bad value', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: { ...process.env, PORT: 'not-a-port' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('gatehouse: Invalid environment variable PORT: expected number');
  });
});
