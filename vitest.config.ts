import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

export default defineConfig({
  test: {
    pool: 'forks',
    // Two cores: more forks only queue behind each other and starve the Temporal server.
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: '.reports/vitest.json' },
    projects: [
      {
        // `@gatehouse/*` from the packages' sources (tsconfig `paths`), not their built dist/.
        resolve: { tsconfigPaths: true },
        test: {
          name: 'node',
          // One fork runs file after file, its modules loaded once: each file's stack is its own (startStack).
          isolate: false,
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Admin UI components rendered with fixed data in jsdom: no database, no Temporal.
        plugins: [svelte({ configFile: 'ui/svelte.config.js' }), svelteTesting()],
        test: {
          name: 'ui',
          include: ['ui/**/*.test.ts'],
          environment: 'jsdom',
          setupFiles: ['ui/test/setup.ts'],
        },
      },
    ],
  },
});
