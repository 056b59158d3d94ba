import { z } from 'zod';
import {
  GUARDRAIL_METRICS,
  MAX_FEEDBACK_WINDOW_SECONDS,
  MAX_HOLDBACK_PERCENT,
  ROLLOUT_PHASES,
} from '@aviary/domain';

const seconds = z
  .number()
  .int()
  .min(0)
  .max(90 * 24 * 3600);

export const planStepSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('shadow'),
    sampleRate: z.number().gt(0).max(1),
    minDurationSeconds: seconds,
  }),
  z.strictObject({
    type: z.literal('setWeight'),
    weight: z.number().int().min(1).max(100),
    minDurationSeconds: seconds,
  }),
  z.strictObject({ type: z.literal('bake'), minDurationSeconds: seconds }),
]);

export const planSchema = z.strictObject({
  steps: z.array(planStepSchema).min(1).max(20),
  /** Users kept on the baseline at 100% and in the bake (a concurrent control); 0 turns it off. */
  holdbackPercent: z.number().int().min(0).max(MAX_HOLDBACK_PERCENT).optional(),
});

const guardrailOverride = z.strictObject({
  enabled: z.boolean().optional(),
  maxRelativeIncrease: z.number().min(0).max(100).optional(),
  absoluteCeiling: z.number().min(0).nullable().optional(),
  minSamples: z.number().int().min(1).max(10_000_000).optional(),
  onMissingData: z.enum(['hold', 'rollback', 'ignore']).optional(),
});

/** Ratings arrive late: thumbs-down also says how long an answer's ratings are waited for. */
const ratingsOverride = guardrailOverride.extend({
  feedbackWindowSeconds: z.number().int().min(0).max(MAX_FEEDBACK_WINDOW_SECONDS).optional(),
});

export const guardrailsSchema = z.strictObject({
  ...(Object.fromEntries(GUARDRAIL_METRICS.map((m) => [m, guardrailOverride.optional()])) as Record<
    (typeof GUARDRAIL_METRICS)[number],
    z.ZodOptional<typeof guardrailOverride>
  >),
  thumbsDownRate: ratingsOverride.optional(),
});

export const createRolloutSchema = z.strictObject({
  /** Model name or id. */
  model: z.string().min(1).max(100),
  /** Candidate version label or id; the baseline is the model's current stable version. */
  candidateVersion: z.string().min(1).max(100),
  plan: planSchema.optional(),
  guardrails: guardrailsSchema.optional(),
  /** The shadow step's LLM-judge gate (needs a judge configured on the analyzer). */
  shadowGate: z
    .strictObject({
      minWinOrTieRate: z.number().min(0).max(1).optional(),
      minJudgements: z.number().int().min(1).max(1_000_000).optional(),
      onMissingData: z.enum(['ignore', 'hold']).optional(),
    })
    .optional(),
  /**
   * The offline check before shadow: a golden set as JSONL (one item per line, see docs), run against
   * both versions when the rollout starts; the candidate must match or beat the baseline to leave the
   * first step.
   */
  goldenSet: z.string().min(1).max(2_000_000).optional(),
  /** A version that was rolled back is never promoted again silently: say so explicitly, with a reason. */
  allowRolledBackCandidate: z.boolean().default(false),
  reason: z.string().trim().min(1).max(2000).optional(),
});
export type CreateRolloutInput = z.output<typeof createRolloutSchema>;

const reason = z.string().trim().min(1, 'must not be empty').max(2000);
export const startSchema = z.strictObject({ reason: reason.optional() });
export const promoteSchema = z.strictObject({ full: z.boolean().default(false), reason: reason.optional() });
export const pauseSchema = z.strictObject({ reason: reason.optional() });
export const resumeSchema = z.strictObject({ reason: reason.optional() });
export const rollbackSchema = z.strictObject({ reason });
export const retrySchema = z.strictObject({ reason });

export const listRolloutsQuery = z.strictObject({
  model: z.string().min(1).max(100).optional(),
  phase: z.enum(ROLLOUT_PHASES).optional(),
  active: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.uuid().optional(),
});
export type ListRolloutsQuery = z.output<typeof listRolloutsQuery>;

export const listEventsQuery = z.strictObject({
  after: z.coerce.bigint().min(0n).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
