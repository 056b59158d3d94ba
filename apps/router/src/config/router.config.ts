import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { envField, parseEnv } from '@aviary/config';
import { KAFKA_SECURITY_ENV, kafkaSecurityProblems } from '@aviary/kafka';
import { LOG_FORMATS } from '@aviary/observability';
import { corsOriginProblem } from '../http/cors';

const rate = z.coerce.number().min(0).max(1);

const schema = z.object({
  AVIARY_ROUTER_PORT: envField.port(8081),
  AVIARY_BIND_HOST: z.string().default('127.0.0.1'),
  /** Unleash client API base: Unleash (`http://unleash:4242/api`) or the control plane's built-in (`http://cp:8080/api`). */
  AVIARY_FLAGS_URL: envField.url().default('http://127.0.0.1:8080/api'),
  /** Unleash client token, or an Aviary viewer token for the built-in source. */
  AVIARY_FLAGS_TOKEN: z.string().min(1).optional(),
  /** Poll period; a rollback reaches the router within about this long plus the source's own delay. */
  AVIARY_FLAGS_REFRESH_MS: envField.positiveInt(500, 600_000),
  /** Where the last known split is kept across restarts (unleash-client backup). */
  AVIARY_FLAGS_BACKUP_DIR: z.string().default(join(tmpdir(), 'aviary-router-flags')),
  /** Unleash client-API JSON to route with before the flag source has ever answered. */
  AVIARY_FLAGS_BOOTSTRAP_FILE: z.string().optional(),
  KAFKA_BROKERS: envField.csv().optional(),
  KAFKA_CLIENT_ID: z.string().default('aviary-router'),
  /** Partitions for the evidence topics when the router creates them (keyed by rollout). */
  AVIARY_KAFKA_PARTITIONS: envField.positiveInt(6, 1000),
  AVIARY_EVENTS_BUFFER: envField.positiveInt(50_000, 10_000_000),
  AVIARY_EVENTS_LINGER_MS: envField.positiveInt(20, 10_000),
  AVIARY_ROUTER_MAX_BODY_BYTES: envField.positiveInt(1_048_576, 64 * 1_048_576),
  /** Requests in flight per upstream before queueing. */
  AVIARY_UPSTREAM_MAX_CONCURRENCY: envField.positiveInt(128, 100_000),
  /** Requests waiting per upstream before answering 429. */
  AVIARY_UPSTREAM_MAX_QUEUE: z.coerce.number().int().min(0).max(1_000_000).default(512),
  AVIARY_UPSTREAM_QUEUE_TIMEOUT_MS: envField.positiveInt(10_000, 600_000),
  /** Per stickiness key (user / API key) requests per minute; 0 = no limit. */
  AVIARY_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(0),
  AVIARY_SHADOW_MAX_CONCURRENCY: envField.positiveInt(16, 10_000),
  AVIARY_SHADOW_TIMEOUT_MS: envField.positiveInt(30_000, 600_000),
  /** Largest upstream answer the router reads (a version's maxResponseBytes overrides it). */
  AVIARY_UPSTREAM_MAX_RESPONSE_BYTES: envField.positiveInt(32 * 1_048_576, 1024 * 1_048_576),
  /** Largest shadow answer the router reads; past it the copy is cut and recorded as invalid. */
  AVIARY_SHADOW_MAX_RESPONSE_BYTES: envField.positiveInt(4 * 1_048_576, 1024 * 1_048_576),
  /** Deadline for a whole non-streamed answer (a version's totalTimeoutMs overrides it). */
  AVIARY_UPSTREAM_TOTAL_TIMEOUT_MS: envField.positiveInt(300_000, 3_600_000),
  /** Characters of each answer kept in shadow pair events (longer answers are cut there). */
  AVIARY_CAPTURE_MAX_CHARS: envField.positiveInt(32_768, 16 * 1_048_576),
  /** Share of shadowed requests whose outputs are streamed as pairs. */
  AVIARY_CAPTURE_SAMPLE_RATE: rate.default(1),
  /** Prompt text in pair events: keep it, redact contents, or drop it. */
  AVIARY_CAPTURE_PROMPTS: z.enum(['keep', 'redact', 'drop']).default('keep'),
  /** Refusal patterns (case-insensitive regexes), one per line; replaces the default list. */
  AVIARY_REFUSAL_PATTERNS: z.string().optional(),
  /**
   * Client authentication: `keys` (router API keys, created in the control plane) or `off` (anyone
   * who can reach the router may call it and spend its upstream keys; logged as a warning).
   */
  AVIARY_ROUTER_AUTH: z.enum(['keys', 'off']).default('keys'),
  /** The control plane routers fetch their keys from; default: AVIARY_FLAGS_URL without /api (the built-in flag source). */
  AVIARY_CONTROL_PLANE_URL: envField.url().optional(),
  /** An Aviary token (viewer) for the control plane; default: AVIARY_FLAGS_TOKEN. */
  AVIARY_CONTROL_PLANE_TOKEN: z.string().min(1).optional(),
  /** How often the keys are polled; a revoked key stops working within about this long. */
  AVIARY_KEYS_REFRESH_MS: envField.positiveInt(5_000, 600_000),
  /** Signs request ids so feedback can be attributed by any replica. Must be the same on every router. */
  AVIARY_ROUTER_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** The debug header that forces a version (its label or id) for one request. */
  AVIARY_FORCE_VERSION_HEADER: z
    .string()
    .regex(/^x-[a-z0-9-]+$/, 'must be a lower-case header name starting with x-')
    .default('x-aviary-force-version'),
  /**
   * Who may send it: router key ids or names, comma-separated, or `*` for every caller (also with
   * AVIARY_ROUTER_AUTH=off). Unset: nobody (403). Forced answers are never counted as evidence.
   */
  AVIARY_FORCE_VERSION_KEYS: envField.csv().default([]),
  AVIARY_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** The router's own lines: one JSON object per line (pino), or readable lines for a terminal. */
  AVIARY_LOG_FORMAT: z.enum(LOG_FORMATS).default('json'),
  /** One JSON line per request on stdout (request id, model, version, role, status, latency), or none. */
  AVIARY_ACCESS_LOG: z.enum(['stdout', 'off']).default('stdout'),
  /**
   * Origins whose browser apps may call the router (CORS), comma-separated (`https://app.example.com`),
   * or `*` for any; empty (the default): no CORS headers, browsers on other origins are refused.
   */
  AVIARY_CORS_ORIGINS: envField.csv().default([]),
  ...KAFKA_SECURITY_ENV,
});

export type RouterConfig = z.output<typeof schema>;

export function loadRouterConfig(env: Record<string, string | undefined> = process.env): RouterConfig {
  const c = parseEnv(
    'router',
    schema.superRefine((c, ctx) => {
      for (const p of kafkaSecurityProblems(c))
        ctx.addIssue({ code: 'custom', path: [p.path], message: p.message });
      const cors = corsOriginProblem(c.AVIARY_CORS_ORIGINS);
      if (cors) ctx.addIssue({ code: 'custom', path: ['AVIARY_CORS_ORIGINS'], message: cors });
    }),
    env,
  );
  const flagsUrl = c.AVIARY_FLAGS_URL.replace(/\/+$/, '');
  return Object.assign({}, c, {
    AVIARY_FLAGS_URL: flagsUrl,
    AVIARY_CONTROL_PLANE_URL: (c.AVIARY_CONTROL_PLANE_URL ?? flagsUrl.replace(/\/api$/, '')).replace(
      /\/+$/,
      '',
    ),
    AVIARY_CONTROL_PLANE_TOKEN: c.AVIARY_CONTROL_PLANE_TOKEN ?? c.AVIARY_FLAGS_TOKEN,
  });
}
