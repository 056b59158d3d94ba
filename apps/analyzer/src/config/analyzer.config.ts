import { z } from 'zod';
import { envField, parseEnv } from '@aviary/config';
import { KAFKA_SECURITY_ENV, kafkaSecurityProblems } from '@aviary/kafka';
import type { JudgeSettings } from '../judge/judge-worker';
import { LOG_FORMATS } from '@aviary/observability';

const schema = z.object({
  /** PostgreSQL the control plane uses (the analyzer adds evidence to it). */
  DATABASE_URL: envField.postgresUrl(),
  DATABASE_POOL_MAX: envField.positiveInt(5, 100),
  KAFKA_BROKERS: envField.csv(),
  KAFKA_CLIENT_ID: z.string().default('aviary-analyzer'),
  /** Partitions of the evidence topics if the analyzer is the first to create them (as the router's). */
  AVIARY_KAFKA_PARTITIONS: envField.positiveInt(6, 1000),
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
  /** json: one pino JSON object per line; pretty: readable lines. */
  AVIARY_LOG_FORMAT: z.enum(LOG_FORMATS).default('json'),
  /** OpenAI-compatible base URL of an LLM judge for shadow pairs (…/v1); unset = no judge. */
  AVIARY_JUDGE_URL: envField.url().optional(),
  AVIARY_JUDGE_MODEL: z.string().min(1).optional(),
  AVIARY_JUDGE_API_KEY: z.string().min(1).optional(),
  AVIARY_JUDGE_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(0.2),
  AVIARY_JUDGE_RATE_PER_SECOND: z.coerce.number().positive().max(1000).default(2),
  AVIARY_JUDGE_MAX_PER_ROLLOUT: envField.positiveInt(500, 1_000_000),
  AVIARY_JUDGE_TIMEOUT_MS: envField.positiveInt(30_000, 600_000),
  ...KAFKA_SECURITY_ENV,
});

export type AnalyzerConfig = z.output<typeof schema>;

export function loadAnalyzerConfig(env: Record<string, string | undefined> = process.env): AnalyzerConfig {
  return parseEnv(
    'analyzer',
    schema.superRefine((c, ctx) => {
      if (c.AVIARY_JUDGE_URL && !c.AVIARY_JUDGE_MODEL)
        ctx.addIssue({
          code: 'custom',
          path: ['AVIARY_JUDGE_MODEL'],
          message: 'is required when AVIARY_JUDGE_URL is set',
        });
      for (const p of kafkaSecurityProblems(c))
        ctx.addIssue({ code: 'custom', path: [p.path], message: p.message });
    }),
    env,
  );
}

/** The judge settings, or null when no judge is configured. */
export function judgeSettings(c: AnalyzerConfig): JudgeSettings | null {
  if (!c.AVIARY_JUDGE_URL || !c.AVIARY_JUDGE_MODEL) return null;
  return {
    url: c.AVIARY_JUDGE_URL,
    model: c.AVIARY_JUDGE_MODEL,
    apiKey: c.AVIARY_JUDGE_API_KEY ?? null,
    sampleRate: c.AVIARY_JUDGE_SAMPLE_RATE,
    ratePerSecond: c.AVIARY_JUDGE_RATE_PER_SECOND,
    maxPerRollout: c.AVIARY_JUDGE_MAX_PER_ROLLOUT,
    timeoutMs: c.AVIARY_JUDGE_TIMEOUT_MS,
    queueSize: 1000,
  };
}
