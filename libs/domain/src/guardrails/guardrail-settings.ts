/**
 * Guardrails compare the candidate with the baseline over the same window. Defaults come from the
 * domain brief: roll back when refusals rise >20% relative, thumbs-down >15%, errors >10%, silent
 * failures (empty / broken JSON) >10%, latency p95 >50%, output length drops >30%.
 */
export const GUARDRAIL_METRICS = [
  'refusalRate',
  'thumbsDownRate',
  'errorRate',
  'silentFailureRate',
  'latencyP95',
  'outputLengthDrop',
  'ttftP95',
  'costPerRequest',
] as const;
export type GuardrailMetric = (typeof GUARDRAIL_METRICS)[number];

export type MissingDataPolicy = 'hold' | 'rollback' | 'ignore';

export interface GuardrailSetting {
  readonly enabled: boolean;
  /** Fail when the candidate is worse than the baseline by more than this fraction (0.2 = 20%). */
  readonly maxRelativeIncrease: number;
  /** Fail regardless of the baseline above this absolute value (rate 0-1, or ms for latency); null = none. */
  readonly absoluteCeiling: number | null;
  /**
   * Minimum observations per arm before the guardrail can say anything but Inconclusive (a ceiling
   * can fail it earlier). Successful is judged on point estimates, so this is what keeps noise from
   * hiding a regression: the defaults are where a doubled rate (at typical rates) still looks within
   * the tolerance with only ~1% probability.
   */
  readonly minSamples: number;
  readonly onMissingData: MissingDataPolicy;
  /**
   * Ratings only (thumbsDownRate): how long an answer's feedback is waited for. Ratings of answers
   * younger than this are left out of the comparison (both arms alike, so a thumbs-down that comes
   * faster than a thumbs-up cannot tilt it), and a step does not pass on ratings before its own
   * first answers are this old. 0 = use every rating at once.
   */
  readonly feedbackWindowSeconds?: number;
}

export type GuardrailSettings = Readonly<Record<GuardrailMetric, GuardrailSetting>>;

/** Most thumbs arrive within minutes, slow thumbs-up within a few hours (see docs/guardrail-statistics.md). */
export const DEFAULT_FEEDBACK_WINDOW_SECONDS = 6 * 3600;
/** A feedback window longer than a week would hold every step for it. */
export const MAX_FEEDBACK_WINDOW_SECONDS = 7 * 24 * 3600;

const base = { enabled: true, absoluteCeiling: null, minSamples: 200, onMissingData: 'hold' } as const;

/**
 * minSamples: at minSamples per arm, the chance that a candidate with double the typical rate still
 * has a point estimate within the tolerance (and so could be Successful) is about 1%: refusals 4%
 * (700 responses: 0.95%), errors 1% (2,000 requests: 1.1%), silent failures 2% (1,000 responses:
 * 1.1%), thumbs-down 10% (200 ratings: 1.2%). A doubled p95 or a halved output length is visible at
 * 200. See docs/guardrail-statistics.md.
 */
export const DEFAULT_GUARDRAILS: GuardrailSettings = {
  refusalRate: { ...base, maxRelativeIncrease: 0.2, minSamples: 700 },
  thumbsDownRate: {
    ...base,
    maxRelativeIncrease: 0.15,
    minSamples: 200,
    feedbackWindowSeconds: DEFAULT_FEEDBACK_WINDOW_SECONDS,
  },
  errorRate: { ...base, maxRelativeIncrease: 0.1, absoluteCeiling: 0.05, minSamples: 2000 },
  silentFailureRate: { ...base, maxRelativeIncrease: 0.1, minSamples: 1000 },
  latencyP95: { ...base, maxRelativeIncrease: 0.5 },
  outputLengthDrop: { ...base, maxRelativeIncrease: 0.3 },
  // Streamed answers only: an app that never streams has no data here, which is no reason to hold.
  ttftP95: { ...base, maxRelativeIncrease: 0.5, onMissingData: 'ignore' },
  // Off by default: a dearer candidate is a business decision, not a fault. Needs prices on both versions.
  costPerRequest: { ...base, enabled: false, maxRelativeIncrease: 0.2 },
};

/** Merges per-rollout overrides over the defaults. */
export function resolveGuardrails(
  overrides: Partial<Record<GuardrailMetric, Partial<GuardrailSetting>>> | undefined,
): GuardrailSettings {
  const out = {} as Record<GuardrailMetric, GuardrailSetting>;
  for (const metric of GUARDRAIL_METRICS) {
    out[metric] = { ...DEFAULT_GUARDRAILS[metric], ...(overrides?.[metric] ?? {}) };
  }
  return out;
}
