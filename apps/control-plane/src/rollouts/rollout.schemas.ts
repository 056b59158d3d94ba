import { z } from 'zod';
import {
  ANALYSIS_MODES,
  COHORT_HEADER_PATTERN,
  CONSTRAINT_OPERATORS,
  MAX_COHORT_VALUES,
  DEADLINE_POLICIES,
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

/** A progress deadline on any step (Argo Rollouts' progressDeadlineSeconds, per step). */
const deadline = {
  maxDurationSeconds: seconds
    .min(1)
    .optional()
    .describe('Progress deadline: seconds in the step (paused time excluded) before onDeadline acts'),
  /** What happens past it: `hold` (the default: logged once, shown on the status page) or `rollback`. */
  onDeadline: z
    .enum(DEADLINE_POLICIES)
    .optional()
    .describe('Past maxDurationSeconds: hold (the default; logged once) or rollback'),
  /** Under `rollback`: how much longer an on-track step may hold past the deadline. */
  deadlineGraceSeconds: seconds
    .optional()
    .describe(
      'With onDeadline rollback: seconds past the deadline a step may hold while its analysis is on track (every undecided guardrail within its limit and projected to decide within the grace); default 0',
    ),
};

const cohortValue = z.string().min(1).max(512);
const cohortSchema = z.strictObject({
  userIds: z.array(cohortValue).min(1).max(MAX_COHORT_VALUES).optional(),
  header: z
    .strictObject({
      name: z.string().regex(COHORT_HEADER_PATTERN, 'must be a lower-case x- header name'),
      value: cohortValue,
    })
    .optional(),
  /** Unleash strategy constraints on the context fields the router sends. */
  constraints: z
    .array(
      z.strictObject({
        contextName: z.string().min(1).max(100),
        operator: z.enum(CONSTRAINT_OPERATORS),
        values: z.array(cohortValue).min(1).max(MAX_COHORT_VALUES).optional(),
        value: cohortValue.optional(),
        inverted: z.boolean().optional(),
        caseInsensitive: z.boolean().optional(),
      }),
    )
    .min(1)
    .max(20)
    .optional(),
});

export const planStepSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('shadow'),
    sampleRate: z.number().gt(0).max(1),
    minDurationSeconds: seconds,
    ...deadline,
  }),
  z.strictObject({
    type: z.literal('setWeight'),
    /** 0 only with a cohort (checked with the plan's other rules). */
    weight: z.number().int().min(0).max(100),
    minDurationSeconds: seconds,
    /** Users who get the candidate first, whatever their bucket. */
    cohort: cohortSchema.optional(),
    ...deadline,
  }),
  z.strictObject({ type: z.literal('bake'), minDurationSeconds: seconds, ...deadline }),
  /** No duration: an approval gate (waits for promote with a reason). With one: a timed wait. */
  z.strictObject({ type: z.literal('pause'), durationSeconds: seconds.optional(), ...deadline }),
]);

export const planSchema = z.strictObject({
  steps: z.array(planStepSchema).min(1).max(20),
  /** After 100%: watch the new stable version against its first period (0 turns it off). */
  watch: z
    .strictObject({ durationSeconds: seconds.optional(), referenceSeconds: seconds.min(1).optional() })
    .optional(),
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
  plan: planSchema
    .optional()
    .describe(
      'Default: shadow 3 d (every request mirrored), 5 → 20 → 50 → 100 % at 48 h each, bake 48 h, 5 % holdback at ' +
        '100 % and in the bake; each step rolls back if its analysis has not decided by twice its minimum ' +
        '(maxDurationSeconds, onDeadline rollback)',
    ),
  /**
   * Who advances a step: `guardrails` (a Successful verdict) or `manual` (an operator's promote,
   * recorded as an approval). The guardrails roll a failing candidate back in both. Default from
   * AVIARY_ANALYSIS.
   */
  analysis: z.enum(ANALYSIS_MODES).optional(),
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
  after: z.coerce.bigint().min(0n).max(9_223_372_036_854_775_807n, 'must be at most 2^63 - 1').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
