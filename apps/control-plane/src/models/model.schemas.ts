import { z } from 'zod';
import { CREDENTIAL_NAME } from '@aviary/config';
import { httpUrl } from '../common/http-url';
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

/**
 * Where a version's requests go. Only an origin and a path: credentials in the URL would be shown
 * to every viewer, and a query string or fragment would let a version redirect the router's calls
 * to any path (the router appends `/chat/completions` and friends to this).
 */
export const upstreamBaseUrl = httpUrl({
  example: 'http://vllm:8000/v1',
  credentialsHint: 'declare a credential and use apiKeyRef',
  query: false,
});

/** Prices change more often than anything else about a version; so they can be set again (PUT …/prices). */
export const pricesSchema = z.strictObject({
  /** Only US dollars: costs of different versions must be comparable without exchange rates. */
  currency: z.literal('USD', { error: 'must be "USD": prices are in US dollars' }).default('USD'),
  /** USD per million prompt (input) tokens. */
  inputPerMillionTokens: z.number().min(0).max(100_000),
  /** USD per million completion (output) tokens. */
  outputPerMillionTokens: z.number().min(0).max(100_000),
});
export type PricesInput = z.output<typeof pricesSchema>;

export const createVersionSchema = z.strictObject({
  label: slug('label'),
  upstreamBaseUrl,
  upstreamModel: z.string().min(1).max(200),
  timeoutMs: z.number().int().min(100).max(600_000).default(60_000),
  /** The NAME of an upstream credential an admin declared (POST /api/v1/credentials), never the key. */
  apiKeyRef: z
    .string()
    .regex(
      CREDENTIAL_NAME,
      'must be the name of a declared upstream credential (e.g. openai-prod), not the key itself',
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
  /** What the version's upstream charges; omitted = unknown (no cost is shown or judged). */
  prices: pricesSchema.optional(),
});
export type CreateVersionInput = z.output<typeof createVersionSchema>;
