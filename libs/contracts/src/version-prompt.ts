import { z } from 'zod';

/*
 * A version's prompt and decoding parameters, as the admin API takes them and the routing payload
 * carries them (the TypeScript shape is @aviary/domain's VersionPrompt). Ranges are OpenAI's.
 */

/** Characters; keeps two prompts (a variant carries its target and the shadow or fallback) far below unleash-server's 100 kB request limit. */
export const MAX_SYSTEM_PROMPT_CHARS = 8192;
export const MAX_PROMPT_VARIABLES = 32;
export const MAX_PROMPT_VARIABLE_CHARS = 1024;

const decodingParametersShape = {
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  max_tokens: z.number().int().min(1).max(1_000_000).optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  seed: z
    .number()
    .int()
    .min(-(2 ** 53) + 1)
    .max(2 ** 53 - 1)
    .optional(),
  stop: z
    .union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).min(1).max(4).readonly()])
    .optional(),
};
/** As the admin API takes them: an unknown parameter is a 400 naming it. */
export const decodingParametersSchema = z.strictObject(decodingParametersShape);
export type DecodingParametersInput = z.infer<typeof decodingParametersSchema>;

export const promptVariablesSchema = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'must be a variable name (letters, digits, _ . -)'),
    z.string().max(MAX_PROMPT_VARIABLE_CHARS),
  )
  .refine((v) => Object.keys(v).length <= MAX_PROMPT_VARIABLES, {
    message: `must have at most ${MAX_PROMPT_VARIABLES} variables`,
  });

/** The routing payload's form: every part optional, so payloads published before it decode. */
export const versionPromptSchema = z.object({
  systemPrompt: z.string().max(MAX_SYSTEM_PROMPT_CHARS).nullable().optional(),
  promptVariables: promptVariablesSchema.optional(),
  // Unknown parameters (from a newer control plane) are dropped, not a reason to drop the routing.
  defaultParameters: z.object(decodingParametersShape).optional(),
  enforcedParameters: z.object(decodingParametersShape).optional(),
});

/**
 * A variant payload carries two versions' prompts (its target and the shadow or fallback), escaped
 * once more inside the strategy request: each version's prompt part is kept to this many bytes so
 * the request stays under unleash-server's 100 kB body limit.
 */
export const MAX_VERSION_PROMPT_BYTES = 40_000;

/** The bytes a version's prompt part takes in a strategy request (JSON inside a JSON string). */
export function encodedPromptBytes(prompt: Readonly<Record<string, unknown>>): number {
  return Buffer.byteLength(JSON.stringify(JSON.stringify(prompt)));
}
