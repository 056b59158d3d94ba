import { z } from 'zod';
import { envField, parseEnv } from '@aviary/config';

const schema = z.object({
  /** PostgreSQL the control plane uses (the analyzer adds evidence to it). */
  DATABASE_URL: envField.postgresUrl(),
  DATABASE_POOL_MAX: envField.positiveInt(5, 100),
  KAFKA_BROKERS: envField.csv(),
  KAFKA_CLIENT_ID: z.string().default('aviary-analyzer'),
  /** Consumer group: analyzer replicas in one group share the partitions. */
  AVIARY_ANALYZER_GROUP_ID: z.string().min(1).default('aviary-analyzer'),
  /** A new group starts from the oldest retained evidence (true) or from now on (false). */
  AVIARY_ANALYZER_FROM_BEGINNING: envField.bool(true),
  /** Width of the time buckets kept for charts. */
  AVIARY_ANALYZER_BUCKET_SECONDS: envField.positiveInt(60, 86_400),
  /** How long redelivered events are recognised (dedup keys kept). */
  AVIARY_ANALYZER_DEDUP_HOURS: envField.positiveInt(72, 24 * 90),
  /** Example shadow pairs kept per rollout for people to read. */
  AVIARY_ANALYZER_PAIR_SAMPLES: envField.positiveInt(20, 1000),
  /** /healthz, /readyz and /metrics. */
  AVIARY_ANALYZER_PORT: envField.port(8082),
  AVIARY_BIND_HOST: z.string().default('127.0.0.1'),
  AVIARY_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type AnalyzerConfig = z.output<typeof schema>;

export function loadAnalyzerConfig(env: Record<string, string | undefined> = process.env): AnalyzerConfig {
  return parseEnv('analyzer', schema, env);
}
