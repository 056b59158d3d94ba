import { z } from 'zod';
import { CREDENTIAL_NAME } from '@aviary/config';
import { httpUrl } from '../common/http-url';
import {
  decodingParametersSchema,
  encodedPromptBytes,
  ENDPOINTS,
  MAX_VERSION_PROMPT_BYTES,
  MAX_SYSTEM_PROMPT_CHARS,
  promptVariablesSchema,
} from '@aviary/contracts';
import { templateProblem } from '@aviary/domain';

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

export const createVersionSchema = z
  .strictObject({
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
    /** Sent as the first system message (chat) or before `instructions` (responses); `{{name}}` = metadata.name. */
    systemPrompt: z
      .string()
      .min(1)
      .max(MAX_SYSTEM_PROMPT_CHARS)
      .superRefine((text, ctx) => {
        // Tabs and line breaks are text; other control characters are a pasting accident.
        // eslint-disable-next-line no-control-regex
        if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text))
          ctx.addIssue({
            code: 'custom',
            message: 'must not contain control characters other than tab and newline',
          });
        const problem = templateProblem(text);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /** Values for `{{variables}}` a request's metadata does not set. */
    promptVariables: promptVariablesSchema.optional(),
    /** Applied when a request does not set them. */
    defaultParameters: decodingParametersSchema.optional(),
    /** Always applied, over the request's values. */
    enforcedParameters: decodingParametersSchema.optional(),
    metadata: z
      .record(z.string().max(200), z.unknown())
      .refine((m) => JSON.stringify(m).length <= 16_384, 'must be at most 16 KiB of JSON')
      .default({}),
    /** What the version's upstream charges; omitted = unknown (no cost is shown or judged). */
    prices: pricesSchema.optional(),
  })
  .superRefine((v, ctx) => {
    const bytes = encodedPromptBytes({
      systemPrompt: v.systemPrompt,
      promptVariables: v.promptVariables,
      defaultParameters: v.defaultParameters,
      enforcedParameters: v.enforcedParameters,
    });
    if (bytes > MAX_VERSION_PROMPT_BYTES)
      ctx.addIssue({
        code: 'custom',
        path: [
          v.promptVariables && Object.keys(v.promptVariables).length > 0 ? 'promptVariables' : 'systemPrompt',
        ],
        message: `the prompt and its variables take ${bytes} bytes in the routing flag, more than ${MAX_VERSION_PROMPT_BYTES}`,
      });
  });
export type CreateVersionInput = z.output<typeof createVersionSchema>;
