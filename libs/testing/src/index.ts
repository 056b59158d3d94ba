export {
  createTestDatabase,
  databaseUrl,
  ensureTemplateDatabase,
  testAdminUrl,
  type CreateTestDatabaseOptions,
  type TestDatabase,
} from './postgres';
export {
  diffCatalogs,
  snapshotCatalog,
  type CatalogDiffOptions,
  type CatalogSnapshot,
  type SnapshotOptions,
} from './postgres-catalog';
export * from './unleash-client';
export * from './tcp-proxy';
export { testKafkaBrokers, testUnleashUrl, unleashAdmin } from './kafka';
export { launchChromium } from './browser';
export { pythonWithOpenAI, PYTHON_OPENAI_VERSION } from './python';
export { PROM_CLIENT_DEFAULTS, promtool, promtoolLintMetrics } from './promtool';
export { outcomeEvent } from './evidence';
export { startOtlpCollector, type OtlpCollector, type ReceivedSpan } from './otlp-collector';
export { lineCapture } from './line-capture';
export { waitFor } from './wait-for';
export { startDemoLlmProcess, type DemoLlmProcess } from './demo-llm-process';
