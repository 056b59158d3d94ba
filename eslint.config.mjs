import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'libs/persistence/src/generated/**',
      'tools/**',
      'charts/**/*.yaml',
      '*.js',
      '*.mjs',
      'scripts/**/*.mjs',
      'bench/**/*.mjs',
      'bin/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The status page's browser script: plain JavaScript, no type information, browser globals.
    files: ['apps/control-plane/src/status/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        Node: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        Chart: 'readonly',
        AbortSignal: 'readonly',
      },
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', 'libs/testing/**'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  {
    // kafkajs is in maintenance mode: it stays behind libs/kafka so it can be swapped.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['libs/kafka/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'kafkajs', message: 'use @aviary/kafka' }] }],
    },
  },
  {
    // Apps meet only through libs and each other's public entry point (@aviary/control-plane,
    // @aviary/router, @aviary/analyzer: apps/<app>/src/index.ts), never through another app's files.
    files: ['apps/*/src/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'kafkajs', message: 'use @aviary/kafka' }],
          patterns: [
            {
              regex: '^(\\.\\./)+(control-plane|router|analyzer|all-in-one|cli)/',
              message:
                "import another app through its public entry point (e.g. '@aviary/router'), not its files",
            },
          ],
        },
      ],
    },
  },
  {
    // Tests too: another app's test helpers come through its test entry point
    // (@aviary/<app>/testing: apps/<app>/test/testing.ts), its code through @aviary/<app>.
    files: ['apps/*/test/**/*.ts', 'test/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'kafkajs', message: 'use @aviary/kafka' }],
          patterns: [
            {
              regex: '^(\\.\\./)+(apps/)?(control-plane|router|analyzer|all-in-one|cli)/',
              message:
                "use another app through '@aviary/<app>' or its test helpers through '@aviary/<app>/testing', not its files",
            },
          ],
        },
      ],
    },
  },
  {
    // SPREAD_THEN_KEYS: on the router's request path, never spread an object and then add keys after
    // it (`{ ...a, b: 1 }`, or a spread copy that gets a new key). Node 20's V8 keeps such copies, and
    // what they reach, through young-generation GCs until the next full one: in the benchmark this made
    // most of what the router promoted to the old generation and its 7-15 ms scavenge pauses
    // (docs/benchmarks.md). Spread last (`{ b: 1, ...a }`, when keys cannot clash) or use
    // `Object.assign({}, a, { b: 1 })`.
    files: ['apps/router/src/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ObjectExpression > SpreadElement ~ Property',
          message:
            'SPREAD_THEN_KEYS: keys after a spread make V8 keep the copy through scavenges; spread last or use Object.assign (see eslint.config.mjs)',
        },
      ],
    },
  },
  {
    // The domain stays pure: no framework, database, broker, flag SDK or network imports.
    files: ['libs/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@nestjs/*',
            '@prisma/*',
            'kafkajs',
            'unleash-client',
            'node:http',
            'pg',
            '@aviary/persistence',
            '@aviary/flags',
          ],
        },
      ],
    },
  },
);
