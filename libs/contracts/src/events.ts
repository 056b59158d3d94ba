import { z } from 'zod';

/**
 * Evidence the router streams to the analyzer. Versioned by `schema`; consumers must ignore unknown
 * fields, producers only add optional ones within a version.
 */
export const TOPICS = {
  outcomes: 'aviary.outcomes.v1',
  pairs: 'aviary.pairs.v1',
  feedback: 'aviary.feedback.v1',
} as const;
export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

/** The OpenAI APIs the router serves (and a version may declare it serves). */
export const ENDPOINTS = ['chat.completions', 'responses', 'embeddings', 'completions'] as const;
export const endpointSchema = z.enum(ENDPOINTS);
export type Endpoint = z.infer<typeof endpointSchema>;

export const ROLES = ['baseline', 'candidate', 'shadow'] as const;
export const roleSchema = z.enum(ROLES);
export type ServingRole = z.infer<typeof roleSchema>;

/** Why a request did not get a good answer from its upstream. */
export const ERROR_CLASSES = [
  'connect', // could not connect / connection reset before a response
  'timeout', // no first byte within the version's timeout
  'upstream_5xx',
  'upstream_4xx',
  'invalid_response', // 2xx that is not a chat completion
  'client_aborted', // the user went away; the upstream call was aborted
  'shed', // not attempted: concurrency limit / queue full
] as const;
export const errorClassSchema = z.enum(ERROR_CLASSES);
export type ErrorClass = z.infer<typeof errorClassSchema>;

export const outcomeEventSchema = z.object({
  schema: z.literal('aviary.outcome.v1'),
  requestId: z.string().min(1),
  at: z.iso.datetime(),
  model: z.string().min(1),
  versionId: z.string().min(1),
  versionLabel: z.string(),
  role: roleSchema,
  rolloutId: z.string().nullable(),
  /** Routing revision the decision was made under. */
  revision: z.number().int().nonnegative(),
  /** 0-99, a hash of the stickiness key: lets the analyzer check balance without the key itself. */
  stickinessBucket: z.number().int().min(0).max(99).nullable(),
  stream: z.boolean(),
  status: z.number().int(),
  errorClass: errorClassSchema.nullable(),
  /** A candidate failure that was answered by the baseline instead. */
  fellBack: z.boolean(),
  refusal: z.boolean(),
  empty: z.boolean(),
  /** Only meaningful when jsonRequested. */
  invalidJson: z.boolean(),
  jsonRequested: z.boolean(),
  latencyMs: z.number().nonnegative(),
  ttftMs: z.number().nonnegative().nullable(),
  promptTokens: z.number().int().nonnegative().nullable(),
  completionTokens: z.number().int().nonnegative().nullable(),
  outputChars: z.number().int().nonnegative(),
  // Optional within v1 (consumers ignore what they do not know; absent = chat.completions, no tools).
  /** Which OpenAI API the request used. */
  endpoint: endpointSchema.optional(),
  /** Tool calls in the answer. */
  toolCalls: z.number().int().nonnegative().optional(),
  /** Tool calls with arguments that are not a JSON object, or calling a tool that was not offered. */
  toolCallErrors: z.number().int().nonnegative().optional(),
  /** The answer is JSON but does not match the request's json_schema (also counted in invalidJson). */
  schemaInvalid: z.boolean().optional(),
  /** Streams: mean time between token events (ttftMs is then the time to the first token). */
  interTokenMs: z.number().nonnegative().nullable().optional(),
  /** The router key the request came with (its id, never the key). */
  keyId: z.string().nullable().optional(),
  /**
   * What the answer cost in USD: prompt and completion tokens at the served version's prices (from
   * the routing payload). Absent when the version has no prices or the request got no answer.
   */
  costUsd: z.number().nonnegative().optional(),
  /** Routed by a cohort rule, not by the user's bucket: not a random sample (left out of the guardrails). */
  cohort: z.boolean().optional(),
  /** The version was forced by the debug header: never counted as evidence. */
  forced: z.boolean().optional(),
});
export type OutcomeEvent = z.infer<typeof outcomeEventSchema>;

const pairSideSchema = z.object({
  versionId: z.string().min(1),
  versionLabel: z.string(),
  status: z.number().int(),
  errorClass: errorClassSchema.nullable(),
  output: z.string().nullable(),
  refusal: z.boolean(),
  empty: z.boolean(),
  invalidJson: z.boolean(),
  latencyMs: z.number().nonnegative(),
  completionTokens: z.number().int().nonnegative().nullable(),
});
export type PairSide = z.infer<typeof pairSideSchema>;

export const pairEventSchema = z.object({
  schema: z.literal('aviary.pair.v1'),
  requestId: z.string().min(1),
  at: z.iso.datetime(),
  model: z.string().min(1),
  rolloutId: z.string().nullable(),
  revision: z.number().int().nonnegative(),
  jsonRequested: z.boolean(),
  /** The request's messages, unless prompt capture is `drop` (null) or `redact` (contents replaced). */
  prompt: z.array(z.object({ role: z.string(), content: z.string() })).nullable(),
  baseline: pairSideSchema,
  shadow: pairSideSchema,
  // Optional within v1.
  endpoint: endpointSchema.optional(),
  /**
   * How alike the answers are (0-1) when the router measured it because text similarity does not
   * apply (embeddings: mean cosine of the vectors, negatives as 0); absent: compare the outputs.
   */
  similarity: z.number().min(0).max(1).nullable().optional(),
});
export type PairEvent = z.infer<typeof pairEventSchema>;

export const feedbackEventSchema = z.object({
  schema: z.literal('aviary.feedback.v1'),
  requestId: z.string().min(1),
  at: z.iso.datetime(),
  model: z.string().min(1),
  versionId: z.string().min(1),
  role: roleSchema,
  rolloutId: z.string().nullable(),
  revision: z.number().int().nonnegative(),
  rating: z.enum(['up', 'down']),
  comment: z.string().max(2000).nullable(),
  /** When the rated answer was served (from the request id): ratings count for the answer's time. */
  servedAt: z.iso.datetime().optional(),
  /** The rated request's stickiness bucket (from the request id); null or absent when unsticky or unknown. */
  stickinessBucket: z.number().int().min(0).max(99).nullable().optional(),
});
export type FeedbackEvent = z.infer<typeof feedbackEventSchema>;

/** Partition key: everything about one rollout lands on one partition, in order. */
export function eventKey(e: { rolloutId: string | null; model: string }): string {
  return e.rolloutId ?? `model:${e.model}`;
}
