import type { AnalysisVerdict } from '../rollout/rollout.types';
import type { ConfidenceInterval } from './confidence-sequences';
import type { GuardrailMetric } from './guardrail-settings';

/**
 * One guardrail's answer. NoData: an arm served traffic but reported nothing for this metric (no
 * ratings, no token counts); the guardrail's `onMissingData` policy decides what that means.
 */
export type GuardrailVerdict = 'Successful' | 'Failed' | 'Inconclusive' | 'NoData';

/** The overall answer; `Error` is left to the analyzer (it could not compute a report at all). */
export type GuardrailsVerdict = Extract<AnalysisVerdict, 'Successful' | 'Failed' | 'Inconclusive'>;

export interface GuardrailResult {
  readonly metric: GuardrailMetric;
  readonly verdict: GuardrailVerdict;
  /**
   * Successful and shown by the always-valid interval: the relative change is confidently within the
   * limit (and the candidate confidently below the ceiling). A Successful guardrail that is not proven
   * passed on its point estimates (enough samples, nothing confidently wrong, no estimate past the
   * limit). Always false for the other verdicts.
   */
  readonly proven: boolean;
  /**
   * The metric per arm, in its own unit: a rate (0-1) for the rates, milliseconds for latencyP95,
   * mean completion tokens for outputLengthDrop. Null without observations.
   */
  readonly baseline: number | null;
  readonly candidate: number | null;
  /**
   * candidate / baseline - 1. For rates and output length the baseline is floored
   * (`max(baseline, floor)`) so 0 vs 1 error is a finite change. Null without observations.
   */
  readonly relativeChange: number | null;
  /** Always-valid interval for relativeChange (null without observations in both arms). */
  readonly interval: ConfidenceInterval | null;
  /** Always-valid interval for the candidate's own value, the one compared with the ceiling. */
  readonly candidateInterval: ConfidenceInterval | null;
  /** Allowed relative change: +maxRelativeIncrease, or -maxRelativeIncrease for outputLengthDrop. */
  readonly limit: number;
  readonly ceiling: number | null;
  /** Observations per arm behind the metric (requests, responses or ratings). */
  readonly samples: { readonly baseline: number; readonly candidate: number };
  readonly minSamples: number;
  /** Plain words for the decision log. */
  readonly reason: string;
  /** The rollout-wide evaluation (evaluateRolloutGuardrails) says how it got there; see below. */
  readonly evidence?: GuardrailEvidenceInfo;
  readonly requirement?: GuardrailRequirement;
  readonly harm?: HarmBound;
  /** Ratings only: the feedback window and how much of the evidence is still inside it. */
  readonly feedbackWindow?: FeedbackWindowInfo;
}

/**
 * What a step needs from a guardrail to pass:
 *   noEvidenceOfHarm  enough samples and the point estimate within the tolerance (steps before the
 *                     last partial one: they only have to catch clear regressions early);
 *   harmBound         also an always-valid bound showing the candidate is not worse than
 *                     harmMultiple x the tolerance (the step that leads to 100%, the 100% step and the
 *                     bake): a worse candidate does not get to serve everyone on a lucky estimate.
 */
export type GuardrailRequirement = 'noEvidenceOfHarm' | 'harmBound';

export interface GuardrailEvidenceInfo {
  /** 'rollout': pooled over every step of this attempt; 'step': the current step only (latency). */
  readonly window: 'rollout' | 'step';
  /** Routing revisions (steps) with both arms in the comparison. */
  readonly steps: number;
  /** User clusters (stickiness buckets) the evidence comes from. */
  readonly clusters: number;
  /**
   * Variance between clusters over the variance independent requests would have (>= 1 when users
   * are correlated); null without per-cluster data.
   */
  readonly designEffect: number | null;
  /** The samples divided by the design effect: what the evidence is worth in independent requests. */
  readonly effectiveSamples: { readonly baseline: number; readonly candidate: number };
}

export interface HarmBound {
  /** The relative change the bound must exclude: harmMultiple x the limit. */
  readonly limit: number;
  /** The always-valid bound on the relative change at `alpha` (upper; lower for output length). */
  readonly bound: number | null;
  /** Whether the bound excludes `limit`. */
  readonly shown: boolean;
  readonly alpha: number;
  /**
   * When not shown: how much more evidence it would take at the current point estimate (x the
   * evidence so far) and, from the current step's pace, how long; null when the point estimate
   * itself is past the limit.
   */
  readonly needed: { readonly factor: number; readonly seconds: number | null } | null;
}

export interface FeedbackWindowInfo {
  readonly seconds: number;
  /** How long until the current step's first answers have had their whole window (0: they have). */
  readonly waitingSeconds: number;
  /** Ratings left out because their answers are younger than the window. */
  readonly immature: { readonly baseline: number; readonly candidate: number };
}

export interface GuardrailReport {
  readonly verdict: GuardrailsVerdict;
  /** One result per enabled guardrail, in GUARDRAIL_METRICS order. */
  readonly results: readonly GuardrailResult[];
  /**
   * The guardrails behind the overall verdict: the failed ones (and missing data under 'rollback')
   * for Failed, the undecided ones (and missing data under 'hold') for Inconclusive, all for Successful.
   */
  readonly decidedBy: readonly GuardrailMetric[];
  readonly disabled: readonly GuardrailMetric[];
  /** Family-wise error level across the enabled guardrails, and what each guardrail was given. */
  readonly alpha: number;
  readonly alphaPerGuardrail: number;
  /** Rollout-wide evaluation only: what this step required to pass. */
  readonly requirement?: GuardrailRequirement;
}

/**
 * How long, at the current step's pace, until an Inconclusive report would decide: the longest of its
 * undecided guardrails' projections (HarmBound.needed, and the feedback still inside its window).
 * Null unless every undecided guardrail is on track: enough samples, within its limit (and below its
 * ceiling) on the point estimate, with a finite projection. A progress deadline's grace holds a step
 * only on this (see StepDeadline.deadlineGraceSeconds).
 */
export function projectedSecondsToDecide(report: GuardrailReport): number | null {
  if (report.verdict !== 'Inconclusive') return null;
  const undecided = report.results.filter((r) => report.decidedBy.includes(r.metric));
  if (undecided.length === 0) return null;
  let longest = 0;
  for (const r of undecided) {
    const seconds = onTrackSeconds(r);
    if (seconds === null) return null;
    longest = Math.max(longest, seconds);
  }
  return longest;
}

function onTrackSeconds(r: GuardrailResult): number | null {
  if (r.verdict !== 'Inconclusive' || r.relativeChange === null) return null;
  if (r.samples.baseline < r.minSamples || r.samples.candidate < r.minSamples) return null;
  const lowerIsWorse = r.metric === 'outputLengthDrop';
  const within = lowerIsWorse ? r.relativeChange >= r.limit : r.relativeChange <= r.limit;
  if (!within) return null;
  if (r.ceiling !== null && (r.candidate === null || r.candidate > r.ceiling)) return null;
  const waiting = r.feedbackWindow?.waitingSeconds ?? 0;
  const harm = r.harm;
  let bound = 0;
  if (harm && !harm.shown) {
    const seconds = harm.needed?.seconds ?? null;
    if (seconds === null || !Number.isFinite(seconds)) return null;
    bound = seconds;
  }
  return Math.max(waiting, bound);
}

export const GUARDRAIL_LABELS: Readonly<Record<GuardrailMetric, string>> = {
  refusalRate: 'refusal rate',
  thumbsDownRate: 'thumbs-down rate',
  errorRate: 'error rate',
  silentFailureRate: 'silent-failure rate',
  latencyP95: 'latency p95',
  outputLengthDrop: 'output length',
  ttftP95: 'time to first token p95',
  costPerRequest: 'cost per request',
};

/**
 * One line for the decision log: the verdict, the guardrails that decided it, and a count of the
 * rest. "Failed: refusal rate 9.8% vs 4.1% baseline, +139% (interval +80%..+210%), limit +20%: exceeds
 * the limit (also: 3 within limits on point estimates, 1 proven within limits, 1 not yet conclusive)".
 * A Successful line says how many guardrails the intervals prove: "Successful (2 of 6 proven): …".
 */
export function describeReport(report: GuardrailReport): string {
  if (report.results.length === 0) return `${report.verdict}: no guardrail enabled`;
  const decisive = report.results.filter((r) => report.decidedBy.includes(r.metric));
  const rest = report.results.filter((r) => !decisive.includes(r));
  const head = `${report.verdict}${successNote(report)}: ${decisive.map((r) => r.reason).join('; ')}`;
  if (rest.length === 0) return head;
  const counts = countBy(rest.map(phraseFor));
  return `${head} (also: ${counts.map(([phrase, n]) => `${n} ${phrase}`).join(', ')})`;
}

function successNote(report: GuardrailReport): string {
  if (report.verdict !== 'Successful') return '';
  const proven = report.results.filter((r) => r.proven).length;
  const total = report.results.length;
  return proven === total ? ' (all proven)' : ` (${proven} of ${total} proven)`;
}

function phraseFor(result: GuardrailResult): string {
  if (result.verdict === 'Successful')
    return result.proven ? 'proven within limits' : 'within limits on point estimates';
  return VERDICT_PHRASE[result.verdict];
}

const VERDICT_PHRASE: Readonly<Record<Exclude<GuardrailVerdict, 'Successful'>, string>> = {
  Failed: 'failed',
  Inconclusive: 'not yet conclusive',
  NoData: 'without data',
};

function countBy(items: readonly string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts.entries()];
}
