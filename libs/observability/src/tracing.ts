import { context, propagation, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { z } from 'zod';
import { envField, parseEnv } from '@aviary/config';

/** The samplers of the OTel spec that need nothing but a ratio (no remote sampler here). */
export const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

const otlpUrl = () => z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' });

/** The standard OTEL_* variables Aviary reads itself; the exporter reads the rest (headers, timeout). */
const schema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpUrl().optional(),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'none'], { message: 'must be otlp or none' }).default('otlp'),
  OTEL_SDK_DISABLED: envField.bool(false),
  OTEL_TRACES_SAMPLER: z.enum(TRACES_SAMPLERS).default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
});

export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP, JSON); null: tracing is off. */
  readonly tracesUrl: string | null;
  readonly sampler: (typeof TRACES_SAMPLERS)[number];
  readonly samplerRatio: number;
}

/**
 * Reads the OpenTelemetry env vars: tracing is on only when an OTLP endpoint is set (and neither
 * OTEL_SDK_DISABLED nor OTEL_TRACES_EXPORTER=none says otherwise). A bad value stops the process
 * with a message naming the variable, where the SDK alone would log it and carry on.
 */
export function loadTracingConfig(env: Record<string, string | undefined> = process.env): TracingConfig {
  const c = parseEnv('tracing', schema, env);
  const signal = c.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = c.OTEL_EXPORTER_OTLP_ENDPOINT;
  // The spec: the signal's own endpoint is used as is; the base endpoint gets /v1/traces appended.
  const url = signal ?? (base ? `${base.replace(/\/+$/, '')}/v1/traces` : null);
  const off = c.OTEL_SDK_DISABLED || c.OTEL_TRACES_EXPORTER === 'none';
  return {
    tracesUrl: off ? null : url,
    sampler: c.OTEL_TRACES_SAMPLER,
    samplerRatio: c.OTEL_TRACES_SAMPLER_ARG ?? 1,
  };
}

export interface Tracing {
  readonly enabled: boolean;
  /** Sends the spans ended so far now, not at the exporter's next batch. */
  flush(): Promise<void>;
  /** Sends the spans still buffered and stops tracing; safe to call more than once. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { enabled: false, flush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
let active: TracerProvider | null = null;

/**
 * Starts the process's tracing: an OTel SDK tracer provider with a batching OTLP/HTTP exporter,
 * registered globally (W3C trace context, AsyncLocalStorage context for the control plane's
 * request → flag publish spans). When off nothing is registered: the API's tracers are no-ops and
 * `activeTracer` answers null, so a hot path can skip span work with one null check.
 */
export async function startTracing(
  config: TracingConfig,
  defaults: { service: string; version?: string },
): Promise<Tracing> {
  if (!config.tracesUrl) return OFF;
  if (active) throw new Error('tracing is already started in this process');
  // The SDK is loaded only when tracing is on: it is most of a second of start-up otherwise.
  const { startProvider } = await import('./otel-sdk');
  const provider = startProvider({ ...config, tracesUrl: config.tracesUrl }, defaults);
  active = provider;
  let stopped: Promise<void> | null = null;
  return {
    enabled: true,
    flush: () => provider.forceFlush(),
    shutdown: () =>
      (stopped ??= provider
        .shutdown()
        .catch(() => undefined)
        .finally(() => {
          // Unregistered, so a later start (tests, a restarted app in one process) registers anew.
          if (active === provider) active = null;
          trace.disable();
          context.disable();
          propagation.disable();
        })),
  };
}

/** The tracer of `name` while tracing is on; null when it is off (nothing to allocate then). */
export function activeTracer(name: string): Tracer | null {
  return active ? active.getTracer(name) : null;
}
