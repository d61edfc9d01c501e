import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import svelte from 'eslint-plugin-svelte';

export default tseslint.config(
  { ignores: ['node_modules', 'ui/dist', 'packages/*/dist', '.data', '.venv', '.reports', 'test-output'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js'],
    languageOptions: {
      globals: { ...globals.node },
      // The same extraFileExtensions as the .svelte block: a different value per file makes the
      // project service reconfigure itself on every switch (lint took minutes instead of seconds).
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'examples/*/*.js'] }, extraFileExtensions: ['.svelte'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-empty-object-type': 'off',
    },
  },
  ...svelte.configs.recommended,
  {
    files: ['ui/**/*.svelte', 'ui/**/*.svelte.ts'],
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'examples/*/*.js'] }, extraFileExtensions: ['.svelte'], parser: tseslint.parser, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no server code.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'dns', 'os', 'child_process'], message: 'Workflows run in a sandbox: no Node built-ins.' },
            { group: ['@mikro-orm/*', 'pg', 'zod', 'express', '../db/*', '../server/*', '../core/*'], allowTypeImports: true, message: 'Workflows may import only types from server code; call an activity instead.' },
            { group: ['../activities/*'], allowTypeImports: true, message: 'Workflows import activity types only.' },
          ],
        },
      ],
    },
  },
);
