// Three projects so the fast unit suite can run alone (`npm run test:unit`) while `npm test`
// runs everything against real services.
const fs = require('node:fs');
const swc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));
const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }],
    // ESM-only dependencies (Node's require(esm) loads them in dist/; jest needs them as CommonJS),
    // and the OTLP exporter's `import('http')`, which jest's CommonJS sandbox refuses without
    // --experimental-vm-modules (swc turns it into a require).
    '/node_modules/(eventsource-parser|@opentelemetry/otlp-exporter-base)/.+\\.js$': [
      '@swc/jest',
      { ...swc, swcrc: false },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!eventsource-parser/|@opentelemetry/otlp-exporter-base/)'],
  moduleNameMapper: {
    '^@aviary/(domain|contracts|flags|persistence|observability|testing|config|kafka|demo-llm|http)$':
      '<rootDir>/libs/$1/src/index.ts',
    '^@aviary/(control-plane|router|analyzer)$': '<rootDir>/apps/$1/src/index.ts',
    // Other apps' tests use an app's test helpers only through its test entry point.
    '^@aviary/(control-plane|router|cli|all-in-one)/testing$': '<rootDir>/apps/$1/test/testing.ts',
  },
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};
module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,scripts,charts,test}/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs,charts}/**/*.int-spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/real-services-timeout.ts'],
    },
    {
      ...shared,
      displayName: 'e2e',
      setupFilesAfterEnv: ['<rootDir>/test/real-services-timeout.ts'],
      testMatch: ['<rootDir>/apps/**/test/**/*.e2e-spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
    },
  ],
};
