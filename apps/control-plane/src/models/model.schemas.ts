import { z } from 'zod';
import { ENDPOINTS } from '@aviary/contracts';

export const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const slug = (what: string) =>
  z
    .string()
    .regex(
      MODEL_NAME,
      `${what} must be 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );

export const createModelSchema = z.strictObject({
  name: slug('name'),
  description: z.string().max(2000).optional(),
});
export type CreateModelInput = z.output<typeof createModelSchema>;

/** Env var / secret name: the API key itself never reaches the database or the logs. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export const createVersionSchema = z.strictObject({
  label: slug('label'),
  upstreamBaseUrl: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL, e.g. http://vllm:8000/v1' })
    .max(2000),
  upstreamModel: z.string().min(1).max(200),
  timeoutMs: z.number().int().min(100).max(600_000).default(60_000),
  apiKeyRef: z
    .string()
    .regex(
      ENV_NAME,
      'must be the NAME of an env var or secret holding the key (e.g. OPENAI_API_KEY), not the key',
    )
    .optional(),
  /** The OpenAI endpoints the upstream serves; omitted = all. The router never sends it others. */
  endpoints: z
    .array(z.enum(ENDPOINTS))
    .min(1)
    .max(ENDPOINTS.length)
    .refine((e) => new Set(e).size === e.length, 'must not repeat an endpoint')
    .optional(),
  /** The largest answer the router reads from this upstream (bytes); omitted = the router's default. */
  maxResponseBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .optional(),
  /** Deadline for a whole non-streamed answer; omitted = the router's default. */
  totalTimeoutMs: z.number().int().min(100).max(3_600_000).optional(),
  metadata: z
    .record(z.string().max(200), z.unknown())
    .refine((m) => JSON.stringify(m).length <= 16_384, 'must be at most 16 KiB of JSON')
    .default({}),
});
export type CreateVersionInput = z.output<typeof createVersionSchema>;
