import { z } from 'zod';
import { envField, parseEnv } from '@aviary/config';
import { LOG_FORMATS, type LogFormat } from '@aviary/observability';

const schema = z.object({
  AVIARY_CONTROL_PLANE_PORT: envField.port(8080),
  /** Loopback by default: the embedded setup is for one machine. Containers set 0.0.0.0. */
  AVIARY_BIND_HOST: z.string().default('127.0.0.1'),
  /** Production database. Unset: an embedded PostgreSQL (PGlite) under AVIARY_DATA_DIR. */
  DATABASE_URL: envField.postgresUrl().optional(),
  AVIARY_DATA_DIR: z.string().default('.aviary'),
  AVIARY_DB_POOL_MAX: envField.positiveInt(10, 200),
  /** Connecting, or waiting for a pooled connection: past this a request answers 503. */
  AVIARY_DB_CONNECT_TIMEOUT_MS: envField.positiveInt(5_000, 600_000),
  /** A query's answer (client side, so a frozen database host cannot hang requests). */
  AVIARY_DB_QUERY_TIMEOUT_MS: envField.positiveInt(10_000, 3_600_000),
  AVIARY_ADMIN_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  UNLEASH_URL: envField.url().optional(),
  UNLEASH_ADMIN_TOKEN: z.string().min(1).optional(),
  UNLEASH_PROJECT: z.string().default('default'),
  UNLEASH_ENVIRONMENT: z.string().default('development'),
  UNLEASH_TIMEOUT_MS: envField.positiveInt(5000, 120_000),
  /**
   * Comma-separated upstream hosts (host, host:port or *.domain) model versions may call; unset:
   * any. Keeps an operator from pointing a version at an arbitrary server.
   */
  AVIARY_UPSTREAM_HOSTS: envField.csv().optional(),
  /** How often the flag reconciler retries publications that did not go through. */
  AVIARY_FLAG_RETRY_INTERVAL_MS: envField.positiveInt(2000, 600_000),
  /**
   * How long an API call that changes a split (start, promote, rollback, …) waits for the flag source
   * to take it before answering anyway; the answer says whether it got there, and publishing goes on.
   */
  AVIARY_FLAG_PUBLISH_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(1000),
  /**
   * How often the flags are read back from Unleash to find changes made there (a flag switched off,
   * archived or edited); 0 turns it off. Not used with the built-in flag source.
   */
  AVIARY_FLAG_DRIFT_CHECK_MS: z.coerce.number().int().min(0).max(600_000).default(5000),
  /** How often a stable version under watch (after 100%) is compared with its first period. */
  AVIARY_WATCH_CHECK_MS: envField.positiveInt(60_000, 3_600_000),
  /** How often rollouts are re-evaluated (step timers, analysis verdicts). */
  AVIARY_TICK_INTERVAL_MS: envField.positiveInt(1000, 600_000),
  /**
   * Where step verdicts come from: `guardrails` (the default) judges each step with the guardrail
   * statistics over the evidence the analyzer stores — without an analyzer there is no evidence and
   * steps hold; `time-only` advances a step once its minimum duration has passed (no guardrails);
   * `manual` makes new rollouts wait for an operator's promote at every step (a rollout's own
   * `analysis` overrides it) while the guardrails still roll a failing candidate back.
   */
  AVIARY_ANALYSIS: z.enum(['guardrails', 'time-only', 'manual']).default('guardrails'),
  /** Serve the built-in Unleash-compatible flag endpoint even when UNLEASH_URL is set. */
  AVIARY_BUILTIN_FLAGS: envField.bool(true),
  AVIARY_MAX_BODY_BYTES: envField.positiveInt(262_144, 10_485_760),
  /** POST /api/v1/rollouts may carry a golden set of up to 2,000,000 characters (JSON-escaped). */
  AVIARY_MAX_ROLLOUT_BODY_BYTES: envField.positiveInt(8_388_608, 67_108_864),
  AVIARY_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** json: one pino JSON object per line (production); pretty: readable lines (npm start). */
  AVIARY_LOG_FORMAT: z.enum(LOG_FORMATS).default('json'),
  /** The status page without a token. Off by default: rollout details are internal. */
  AVIARY_STATUS_PUBLIC: envField.bool(false),
  /** How often an open status page asks for fresh data. */
  AVIARY_STATUS_REFRESH_MS: envField.positiveInt(2000, 600_000),
  /** How long a status-page sign-in lasts (the cookie's Max-Age). */
  AVIARY_STATUS_SESSION_HOURS: envField.positiveInt(12, 24 * 90),
  /**
   * Where people reach this control plane (`https://aviary.example.com`): notifications link to the
   * rollout's status page under it, and each Unleash flag's description links here. Unset: no links.
   */
  AVIARY_PUBLIC_URL: envField
    .url()
    .refine((v) => /^https?:\/\//i.test(v), 'must be an http(s) URL')
    .optional(),
  /** How often the notification dispatcher reads the decision log and sends what is due. */
  AVIARY_NOTIFY_INTERVAL_MS: envField.positiveInt(1000, 600_000),
  /** One delivery attempt (connect, answer); past it the attempt failed and is retried. */
  AVIARY_NOTIFY_TIMEOUT_MS: envField.positiveInt(5000, 120_000),
  /** Delay after a failed attempt, doubling with each further failure, up to the max. */
  AVIARY_NOTIFY_RETRY_BASE_MS: envField.positiveInt(5000, 3_600_000),
  AVIARY_NOTIFY_RETRY_MAX_MS: envField.positiveInt(600_000, 86_400_000),
  /** Attempts per notification in all; then it is recorded as failed. */
  AVIARY_NOTIFY_MAX_ATTEMPTS: envField.positiveInt(10, 100),
  /** Comma-separated hosts notification destinations may point at (host, host:port, *.domain); unset: any. */
  AVIARY_NOTIFY_HOSTS: envField.csv().optional(),
});

export type ControlPlaneEnv = z.output<typeof schema>;

export interface ControlPlaneConfig {
  readonly port: number;
  readonly host: string;
  readonly database: {
    readonly url: string | null;
    readonly dataDir: string;
    readonly poolMax: number;
    readonly connectTimeoutMs: number;
    readonly queryTimeoutMs: number;
  };
  readonly adminToken: string | null;
  readonly unleash: {
    readonly url: string;
    readonly adminToken: string | null;
    readonly project: string;
    readonly environment: string;
    readonly timeoutMs: number;
  } | null;
  readonly flagRetryIntervalMs: number;
  readonly flagPublishWaitMs: number;
  readonly flagDriftCheckMs: number;
  readonly watchCheckMs: number;
  readonly tickIntervalMs: number;
  readonly analysis: 'guardrails' | 'time-only' | 'manual';
  readonly builtinFlags: boolean;
  readonly maxBodyBytes: number;
  /** AVIARY_UPSTREAM_HOSTS, or null for any host. */
  readonly upstreamHosts: readonly string[] | null;
  readonly maxRolloutBodyBytes: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly logFormat: LogFormat;
  readonly status: { readonly public: boolean; readonly refreshMs: number; readonly sessionHours: number };
  /** AVIARY_PUBLIC_URL without a trailing slash, or null. */
  readonly publicUrl: string | null;
  readonly notifications: {
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly retry: {
      readonly baseDelayMs: number;
      readonly maxDelayMs: number;
      readonly maxAttempts: number;
    };
    /** AVIARY_NOTIFY_HOSTS, or null for any host. */
    readonly allowedHosts: readonly string[] | null;
  };
}

export const CONTROL_PLANE_CONFIG = Symbol('CONTROL_PLANE_CONFIG');

export function loadControlPlaneConfig(
  env: Record<string, string | undefined> = process.env,
): ControlPlaneConfig {
  const e = parseEnv('control-plane', schema, env);
  return {
    port: e.AVIARY_CONTROL_PLANE_PORT,
    host: e.AVIARY_BIND_HOST,
    database: {
      url: e.DATABASE_URL ?? null,
      dataDir: e.AVIARY_DATA_DIR,
      poolMax: e.AVIARY_DB_POOL_MAX,
      connectTimeoutMs: e.AVIARY_DB_CONNECT_TIMEOUT_MS,
      queryTimeoutMs: e.AVIARY_DB_QUERY_TIMEOUT_MS,
    },
    adminToken: e.AVIARY_ADMIN_TOKEN ?? null,
    unleash: e.UNLEASH_URL
      ? {
          url: e.UNLEASH_URL.replace(/\/+$/, ''),
          adminToken: e.UNLEASH_ADMIN_TOKEN ?? null,
          project: e.UNLEASH_PROJECT,
          environment: e.UNLEASH_ENVIRONMENT,
          timeoutMs: e.UNLEASH_TIMEOUT_MS,
        }
      : null,
    flagRetryIntervalMs: e.AVIARY_FLAG_RETRY_INTERVAL_MS,
    flagPublishWaitMs: e.AVIARY_FLAG_PUBLISH_WAIT_MS,
    flagDriftCheckMs: e.AVIARY_FLAG_DRIFT_CHECK_MS,
    watchCheckMs: e.AVIARY_WATCH_CHECK_MS,
    tickIntervalMs: e.AVIARY_TICK_INTERVAL_MS,
    analysis: e.AVIARY_ANALYSIS,
    builtinFlags: e.AVIARY_BUILTIN_FLAGS,
    maxBodyBytes: e.AVIARY_MAX_BODY_BYTES,
    upstreamHosts:
      e.AVIARY_UPSTREAM_HOSTS && e.AVIARY_UPSTREAM_HOSTS.length > 0 ? e.AVIARY_UPSTREAM_HOSTS : null,
    maxRolloutBodyBytes: e.AVIARY_MAX_ROLLOUT_BODY_BYTES,
    logLevel: e.AVIARY_LOG_LEVEL,
    logFormat: e.AVIARY_LOG_FORMAT,
    status: {
      public: e.AVIARY_STATUS_PUBLIC,
      refreshMs: e.AVIARY_STATUS_REFRESH_MS,
      sessionHours: e.AVIARY_STATUS_SESSION_HOURS,
    },
    publicUrl: e.AVIARY_PUBLIC_URL ? e.AVIARY_PUBLIC_URL.replace(/\/+$/, '') : null,
    notifications: {
      intervalMs: e.AVIARY_NOTIFY_INTERVAL_MS,
      timeoutMs: e.AVIARY_NOTIFY_TIMEOUT_MS,
      retry: {
        baseDelayMs: e.AVIARY_NOTIFY_RETRY_BASE_MS,
        maxDelayMs: e.AVIARY_NOTIFY_RETRY_MAX_MS,
        maxAttempts: e.AVIARY_NOTIFY_MAX_ATTEMPTS,
      },
      allowedHosts: e.AVIARY_NOTIFY_HOSTS && e.AVIARY_NOTIFY_HOSTS.length > 0 ? e.AVIARY_NOTIFY_HOSTS : null,
    },
  };
}
