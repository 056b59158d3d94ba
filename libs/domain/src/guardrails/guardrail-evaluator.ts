import {
  histogramCount,
  LATENCY_BUCKETS_MS,
  latencyBucketEdge,
  quantileFromHistogram,
  successfulResponses,
  type ArmStats,
  type LatencyHistogram,
} from './arm-stats';
import {
  bisectPredicate,
  normalMixtureMultiplier,
  proportionConfidenceInterval,
  proportionConfidentlyAbove,
  proportionConfidentlyBelow,
  type ConfidenceInterval,
} from './confidence-sequences';
import {
  GUARDRAIL_LABELS,
  type GuardrailReport,
  type GuardrailResult,
  type GuardrailVerdict,
  type GuardrailsVerdict,
} from './guardrail-report';
import {
  GUARDRAIL_METRICS,
  type GuardrailMetric,
  type GuardrailSetting,
  type GuardrailSettings,
} from './guardrail-settings';
import { ceil, floor, max, min, sqrt } from './fast-math';
import { formatInterval, formatNumber, formatRate, formatSigned, formatUsd } from './guardrail-format';

/**
 * Guardrail statistics: is the candidate worse than the baseline by more than each guardrail allows?
 *
 * Every guardrail asks one question with a tolerance m (maxRelativeIncrease):
 *   Failed       we are confident the candidate is beyond the tolerance (r > m; output length r < -m),
 *                or confidently above the absolute ceiling;
 *   Successful   both arms have minSamples observations, it is not Failed, and there is no evidence
 *                of harm: the point estimate of r is within the tolerance and the candidate's value is
 *                not above the ceiling (Kayenta-style). `proven` says whether the always-valid interval
 *                also shows it (the strong non-inferiority claim);
 *   Inconclusive fewer than minSamples observations in an arm, or the point estimate is past the
 *                tolerance or the ceiling but not confidently: hold until the evidence decides.
 * "Confident" means an always-valid confidence sequence (see confidence-sequences.ts) excludes the
 * other side, so the analyzer may evaluate cumulative data at every tick: a candidate whose true
 * degradation is within tolerance is rolled back with probability at most alpha / (enabled
 * guardrails) per guardrail, however often it looks. Testing against the tolerance rather than
 * against "no change" is deliberate: a candidate that is 5% worse on refusals is allowed by a 20%
 * guardrail and must not be rolled back just because enough traffic makes 5% significant.
 *
 * Successful is not a proof: proving non-inferiority against the default tolerances needs ~400,000
 * requests per arm (a +10% tolerance on a 1% error rate), so steps advanced only on proof would never
 * advance. The price is that a regression beyond the tolerance can pass on a lucky point estimate;
 * minSamples (see DEFAULT_GUARDRAILS) keeps that rare for a doubled rate, and Failed still stops the
 * candidate at any look before the step advances.
 *
 * See docs/guardrail-statistics.md for the formulas, defaults and simulated error rates.
 */
export interface GuardrailEvaluationOptions {
  /** Family-wise error level, split evenly across the enabled guardrails (Bonferroni). Default 0.05. */
  readonly alpha?: number;
  /** Observations per arm at which the two-arm confidence sequences are tightest. Default 2000. */
  readonly planningSamples?: number;
  /** Rates are compared relative to max(baseline, rateFloor), so 0 vs 1 error is finite. Default 0.005. */
  readonly rateFloor?: number;
  /** Same for mean output tokens. Default 1. */
  readonly outputTokensFloor?: number;
}

export const DEFAULT_GUARDRAIL_EVALUATION: Required<GuardrailEvaluationOptions> = {
  alpha: 0.05,
  planningSamples: 2000,
  rateFloor: 0.005,
  outputTokensFloor: 1,
};

/** The share of requests above the p95. */
export const P95_TAIL = 0.05;

export function evaluateGuardrails(
  settings: GuardrailSettings,
  baseline: ArmStats,
  candidate: ArmStats,
  options: GuardrailEvaluationOptions = {},
): GuardrailReport {
  const opts = withGuardrailEvaluationDefaults(options);
  if (!(opts.alpha > 0 && opts.alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${opts.alpha}`);
  const enabled = GUARDRAIL_METRICS.filter((m) => settings[m].enabled);
  const disabled = GUARDRAIL_METRICS.filter((m) => !settings[m].enabled);
  const alphaPerGuardrail = enabled.length > 0 ? opts.alpha / enabled.length : opts.alpha;
  const ctx: Context = { ...opts, alphaPerGuardrail };

  const results = enabled.map((metric) => evaluateOne(metric, settings[metric], baseline, candidate, ctx));
  const { verdict, decidedBy } = combineResults(settings, results);
  return {
    verdict,
    results,
    decidedBy,
    disabled,
    alpha: opts.alpha,
    alphaPerGuardrail,
  };
}

/**
 * The overall verdict from the guardrails' (Bonferroni-split) results: Failed if any failed (or has
 * no data under 'rollback'), Successful only if every one passed (or has no data under 'ignore'),
 * Inconclusive otherwise; and the guardrails behind it.
 */
export function combineResults(
  settings: GuardrailSettings,
  results: readonly GuardrailResult[],
): { verdict: GuardrailsVerdict; decidedBy: GuardrailMetric[] } {
  const policy = (m: GuardrailMetric): GuardrailSetting['onMissingData'] => settings[m].onMissingData;
  const failing = results.filter(
    (r) => r.verdict === 'Failed' || (r.verdict === 'NoData' && policy(r.metric) === 'rollback'),
  );
  const passing = results.filter(
    (r) => r.verdict === 'Successful' || (r.verdict === 'NoData' && policy(r.metric) === 'ignore'),
  );
  if (failing.length > 0) return { verdict: 'Failed', decidedBy: failing.map((r) => r.metric) };
  if (passing.length === results.length)
    return { verdict: 'Successful', decidedBy: results.map((r) => r.metric) };
  return {
    verdict: 'Inconclusive',
    decidedBy: results.filter((r) => !passing.includes(r)).map((r) => r.metric),
  };
}

/** The options with defaults filled in; an explicit `undefined` means the default too. */
export function withGuardrailEvaluationDefaults(
  options: GuardrailEvaluationOptions = {},
): Required<GuardrailEvaluationOptions> {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_GUARDRAIL_EVALUATION, ...given };
}

interface Context extends Required<GuardrailEvaluationOptions> {
  readonly alphaPerGuardrail: number;
}

function evaluateOne(
  metric: GuardrailMetric,
  setting: GuardrailSetting,
  baseline: ArmStats,
  candidate: ArmStats,
  ctx: Context,
): GuardrailResult {
  switch (metric) {
    case 'refusalRate':
    case 'thumbsDownRate':
    case 'errorRate':
    case 'silentFailureRate':
      return evaluateRate(metric, setting, baseline, candidate, ctx);
    case 'latencyP95':
      return evaluateLatency('latencyP95', setting, baseline, candidate, ctx);
    case 'ttftP95':
      return evaluateLatency('ttftP95', setting, baseline, candidate, ctx);
    case 'outputLengthDrop':
      return evaluateOutputLength(setting, baseline, candidate, ctx);
    case 'costPerRequest':
      return evaluateCost(setting, baseline, candidate, ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// Rates

export type GuardrailRateMetric = 'refusalRate' | 'thumbsDownRate' | 'errorRate' | 'silentFailureRate';

export interface GuardrailRateSource {
  readonly count: (arm: ArmStats) => number;
  readonly outOf: (arm: ArmStats) => number;
  /** What the denominator counts, for the reasons. */
  readonly noun: string;
}

/** Numerators and denominators: errors over requests, ratings over feedback, the rest over answers. */
export const GUARDRAIL_RATE_SOURCES: Readonly<Record<GuardrailRateMetric, GuardrailRateSource>> = {
  refusalRate: { count: (a) => a.refusals, outOf: successfulResponses, noun: 'responses' },
  thumbsDownRate: { count: (a) => a.thumbsDown, outOf: (a) => a.feedback, noun: 'ratings' },
  errorRate: { count: (a) => a.errors, outOf: (a) => a.requests, noun: 'requests' },
  silentFailureRate: { count: (a) => a.silentFailures, outOf: successfulResponses, noun: 'responses' },
};

function evaluateRate(
  metric: GuardrailRateMetric,
  setting: GuardrailSetting,
  baseline: ArmStats,
  candidate: ArmStats,
  ctx: Context,
): GuardrailResult {
  const src = GUARDRAIL_RATE_SOURCES[metric];
  const [xb, nb] = [src.count(baseline), src.outOf(baseline)];
  const [xc, nc] = [src.count(candidate), src.outOf(candidate)];
  const ceiling = setting.absoluteCeiling;
  const { alphaRelative, alphaCeiling } = splitAlpha(ctx.alphaPerGuardrail, ceiling !== null);

  const ceilingCheck: CeilingCheck =
    ceiling === null
      ? { breached: false, clear: true }
      : {
          breached: proportionConfidentlyAbove(xc, nc, ceiling, alphaCeiling),
          clear: proportionConfidentlyBelow(xc, nc, ceiling, alphaCeiling),
        };
  const comparison =
    nb > 0 && nc > 0
      ? compareMeans(
          rateMean(xb, nb),
          rateMean(xc, nc),
          ctx.rateFloor,
          normalMixtureMultiplier(min(nb, nc), alphaRelative, ctx.planningSamples),
        )
      : null;
  return decide({
    metric,
    setting,
    baseline,
    candidate,
    samples: { baseline: nb, candidate: nc },
    values: { baseline: nb > 0 ? xb / nb : null, candidate: nc > 0 ? xc / nc : null },
    limit: setting.maxRelativeIncrease,
    candidateInterval: nc > 0 ? proportionConfidenceInterval(xc, nc, alphaCeiling) : null,
    comparison,
    ceilingCheck,
    noun: src.noun,
    format: formatRate,
  });
}

/** Agresti-Caffo style smoothing for the variance only, so 0 of n does not claim zero uncertainty. */
function rateMean(x: number, n: number): MeanEstimate {
  const smoothed = (x + 1) / (n + 2);
  return { mean: x / n, variance: (smoothed * (1 - smoothed)) / n };
}

// ---------------------------------------------------------------------------------------------
// Output length

function evaluateOutputLength(
  setting: GuardrailSetting,
  baseline: ArmStats,
  candidate: ArmStats,
  ctx: Context,
): GuardrailResult {
  const b = baseline.outputTokens;
  const c = candidate.outputTokens;
  // A ceiling on a drop is the tolerance again: there is no absolute value to cap, so it is ignored.
  const { alphaRelative } = splitAlpha(ctx.alphaPerGuardrail, false);
  const z = normalMixtureMultiplier(min(b.n, c.n), alphaRelative, ctx.planningSamples);
  const mb = tokenMean(b);
  const mc = tokenMean(c);
  const comparison = mb && mc ? compareMeans(mb, mc, ctx.outputTokensFloor, z) : null;
  const zc = normalMixtureMultiplier(c.n, alphaRelative, ctx.planningSamples);
  const candidateInterval = mc
    ? { lower: max(0, mc.mean - zc * sqrt(mc.variance)), upper: mc.mean + zc * sqrt(mc.variance) }
    : null;
  return decide({
    metric: 'outputLengthDrop',
    setting,
    baseline,
    candidate,
    samples: { baseline: b.n, candidate: c.n },
    values: { baseline: mb?.mean ?? null, candidate: mc?.mean ?? null },
    limit: -setting.maxRelativeIncrease,
    candidateInterval,
    comparison,
    ceilingCheck: { breached: false, clear: true },
    noun: 'responses with token counts',
    format: (v) => `${formatNumber(v)} tokens`,
  });
}

/** Cost per answered request, higher is worse (the single-window form of the rollout guardrail). */
function evaluateCost(
  setting: GuardrailSetting,
  baseline: ArmStats,
  candidate: ArmStats,
  ctx: Context,
): GuardrailResult {
  const { alphaRelative } = splitAlpha(ctx.alphaPerGuardrail, false);
  const z = normalMixtureMultiplier(
    min(baseline.cost.n, candidate.cost.n),
    alphaRelative,
    ctx.planningSamples,
  );
  const mb = tokenMean(baseline.cost);
  const mc = tokenMean(candidate.cost);
  return decide({
    metric: 'costPerRequest',
    setting,
    baseline,
    candidate,
    samples: { baseline: baseline.cost.n, candidate: candidate.cost.n },
    values: { baseline: mb?.mean ?? null, candidate: mc?.mean ?? null },
    limit: setting.maxRelativeIncrease,
    candidateInterval: null,
    comparison: mb && mc ? compareMeans(mb, mc, COST_FLOOR_USD, z) : null,
    ceilingCheck: { breached: false, clear: true },
    noun: 'priced answers',
    format: formatUsd,
  });
}

/**
 * The cost guardrail's floor for the relative change (USD per request): against a free baseline any
 * price is a large relative increase, but 0 vs $0.0000001 is not an infinite one.
 */
export const COST_FLOOR_USD = 1e-6;

function tokenMean(m: {
  readonly n: number;
  readonly sum: number;
  readonly sumSq: number;
}): MeanEstimate | null {
  if (m.n < 2) return null;
  const mean = m.sum / m.n;
  const sampleVariance = max(0, (m.sumSq - m.sum * mean) / (m.n - 1));
  return { mean, variance: sampleVariance / m.n };
}

// ---------------------------------------------------------------------------------------------
// Two-arm comparison of means (rates are means of 0/1)

interface MeanEstimate {
  readonly mean: number;
  /** Variance of the mean estimate. */
  readonly variance: number;
}

export interface Comparison {
  readonly relativeChange: number;
  readonly interval: ConfidenceInterval;
  /** Whether r = relative change is confidently above / below s. */
  readonly above: (s: number) => boolean;
  readonly below: (s: number) => boolean;
}

/**
 * The relative change r = (mc - mb) / max(mb, floor) and its confidence sequence.
 *
 * "r > s" is "mc - mb > s * max(mb, floor)", which for s >= 0 is the conjunction of two linear
 * contrasts, C1(s) = mc - (1 + s) mb > 0 and C2(s) = mc - mb - s floor > 0 (a disjunction for s < 0).
 * Each contrast gets the normal-mixture sequence: estimate +- z * sqrt(Vc + k² Vb), with k = 1 + s for
 * C1 (Fieller: the baseline's own uncertainty widens the ratio) and k = 1 for C2. Claims that the
 * candidate is worse are conjunctions, so their error is at most alpha; claims that it is within
 * the tolerance become disjunctions only where the floor matters (baseline below the floor).
 * The interval is the set of s that cannot be excluded, found by bisection (both predicates are
 * monotone in s on [-1, inf)).
 */
function compareMeans(b: MeanEstimate, c: MeanEstimate, baselineFloor: number, z: number): Comparison {
  const d = c.mean - b.mean;
  const radius = (k: number): number => {
    const v = c.variance + k * k * b.variance;
    return v > 0 ? z * sqrt(v) : 0;
  };
  const above = (s: number): boolean => {
    const c1 = d - s * b.mean - radius(1 + s) > 0;
    const c2 = d - s * baselineFloor - radius(1) > 0;
    return s >= 0 ? c1 && c2 : c1 || c2;
  };
  const below = (s: number): boolean => {
    const c1 = d - s * b.mean + radius(1 + s) < 0;
    const c2 = d - s * baselineFloor + radius(1) < 0;
    return s >= 0 ? c1 || c2 : c1 && c2;
  };
  return {
    relativeChange: d / max(b.mean, baselineFloor),
    interval: { lower: lowestBound(above), upper: upperBound(below) },
    above,
    below,
  };
}

const RELATIVE_CAP = 1e6;

/** sup { s >= -1 : confidently r > s } (r >= -1 always, so -1 when nothing can be said). */
export function lowestBound(above: (s: number) => boolean): number {
  if (!above(-1)) return -1;
  let hi = 1;
  while (above(hi)) {
    if (hi >= RELATIVE_CAP) return hi;
    hi *= 2;
  }
  return bisectPredicate(-1, hi, above);
}

/** inf { s >= -1 : confidently r < s }, or null when no finite bound holds yet. */
export function upperBound(below: (s: number) => boolean): number | null {
  if (below(-1)) return -1;
  let hi = 1;
  while (!below(hi)) {
    if (hi >= RELATIVE_CAP) return null;
    hi *= 2;
  }
  return bisectPredicate(-1, hi, below);
}

// ---------------------------------------------------------------------------------------------
// Latency p95

/**
 * Quantile confidence sequences (Howard & Ramdas, "Sequential estimation of quantiles with
 * applications to A/B-testing and best-arm identification", 2022): the p95 is above a bucket edge
 * when the share of requests slower than that edge is confidently above 5%, and at most the edge when
 * it is confidently below 5%, each a Bernoulli mixture test. The candidate fails when its p95's lower
 * bound exceeds (1 + m) times the baseline p95's upper bound, and passes when its upper bound is below
 * (1 + m) times the baseline's lower bound; each arm gets half the guardrail's alpha.
 */
function evaluateLatency(
  metric: 'latencyP95' | 'ttftP95',
  setting: GuardrailSetting,
  baseline: ArmStats,
  candidate: ArmStats,
  ctx: Context,
): GuardrailResult {
  const hb = latencyHistogramOf(metric, baseline);
  const hc = latencyHistogramOf(metric, candidate);
  const nb = histogramCount(hb);
  const nc = histogramCount(hc);
  const ceiling = setting.absoluteCeiling;
  const { alphaRelative, alphaCeiling } = splitAlpha(ctx.alphaPerGuardrail, ceiling !== null);
  const tailC = tailCounts(hc);

  const ceilingCheck: CeilingCheck =
    ceiling === null
      ? { breached: false, clear: true }
      : latencyCeilingCheck(tailC, nc, ceiling, alphaCeiling);
  const comparison = compareLatencyP95(hb, hc, alphaRelative / 2);
  return decide({
    metric,
    setting,
    baseline,
    candidate,
    samples: { baseline: nb, candidate: nc },
    values: {
      baseline: quantileFromHistogram(hb, 1 - P95_TAIL),
      candidate: quantileFromHistogram(hc, 1 - P95_TAIL),
    },
    limit: setting.maxRelativeIncrease,
    candidateInterval: nc > 0 ? quantileBounds(tailC, nc, alphaCeiling) : null,
    comparison,
    ceilingCheck,
    noun: metric === 'ttftP95' ? 'streamed responses' : 'responses',
    format: (v) => `${formatNumber(v)} ms`,
  });
}

/** The histogram a latency guardrail reads: whole answers, or the first token of streamed ones. */
export function latencyHistogramOf(metric: 'latencyP95' | 'ttftP95', arm: ArmStats): LatencyHistogram {
  return metric === 'ttftP95' ? arm.ttft : arm.latency;
}

/**
 * The p95 comparison of two histograms: the point ratio and its confidence set, each arm's p95
 * bounded at `alphaPerArm` (so a claim about the ratio errs with probability at most 2 alphaPerArm).
 * Null when an arm has no latencies.
 */
export function compareLatencyP95(
  baseline: LatencyHistogram,
  candidate: LatencyHistogram,
  alphaPerArm: number,
): Comparison | null {
  const nb = histogramCount(baseline);
  const nc = histogramCount(candidate);
  const qb = quantileFromHistogram(baseline, 1 - P95_TAIL);
  const qc = quantileFromHistogram(candidate, 1 - P95_TAIL);
  if (!(nb > 0 && nc > 0 && qb !== null && qc !== null)) return null;
  const bb = quantileBounds(tailCounts(baseline), nb, alphaPerArm);
  const bc = quantileBounds(tailCounts(candidate), nc, alphaPerArm);
  // Confidently r > s when the candidate's lowest p95 beats (1 + s) times the baseline's highest.
  const above = (s: number): boolean => bb.upper !== null && bc.lower > (1 + s) * bb.upper;
  const below = (s: number): boolean => bc.upper !== null && bc.upper < (1 + s) * bb.lower;
  return {
    relativeChange: qb > 0 ? qc / qb - 1 : 0,
    interval: {
      lower: bb.upper === null ? -1 : bc.lower / bb.upper - 1,
      upper: bc.upper === null || bb.lower === 0 ? null : bc.upper / bb.lower - 1,
    },
    above,
    below,
  };
}

/** tail[i] = observations slower than bucket edge i. */
export function tailCounts(h: LatencyHistogram): number[] {
  const tail = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);
  let above = h.counts[LATENCY_BUCKETS_MS.length] ?? 0;
  for (let i = LATENCY_BUCKETS_MS.length - 1; i >= 0; i--) {
    tail[i] = above;
    above += h.counts[i] ?? 0;
  }
  return tail;
}

/** Always-valid bounds for the p95, snapped outward to bucket edges. */
export function quantileBounds(tail: readonly number[], n: number, alpha: number): ConfidenceInterval {
  const slowerThan = (i: number): number => tail[i] ?? 0;
  const last = LATENCY_BUCKETS_MS.length - 1;
  // Edges are ordered and the tail shrinks with i, so both predicates are monotone: binary search.
  const confidentlyAbove = (i: number): boolean =>
    proportionConfidentlyAbove(slowerThan(i), n, P95_TAIL, alpha);
  const confidentlyAtMost = (i: number): boolean =>
    proportionConfidentlyBelow(slowerThan(i), n, P95_TAIL, alpha);
  const lastAbove = lastTrue(0, last, confidentlyAbove);
  const firstAtMost = firstTrue(0, last, confidentlyAtMost);
  return {
    lower: lastAbove === null ? 0 : latencyBucketEdge(lastAbove),
    upper: firstAtMost === null ? null : latencyBucketEdge(firstAtMost),
  };
}

export function latencyCeilingCheck(
  tail: readonly number[],
  n: number,
  ceilingMs: number,
  alpha: number,
): CeilingCheck {
  // Round toward caution: breached needs the p95 above an edge at or past the ceiling; clear needs
  // it at or below an edge at or under the ceiling.
  const last = LATENCY_BUCKETS_MS.length - 1;
  const up = firstTrue(0, last, (i) => latencyBucketEdge(i) >= ceilingMs);
  const down = lastTrue(0, last, (i) => latencyBucketEdge(i) <= ceilingMs);
  return {
    breached: up !== null && proportionConfidentlyAbove(tail[up] ?? 0, n, P95_TAIL, alpha),
    clear: down !== null && proportionConfidentlyBelow(tail[down] ?? 0, n, P95_TAIL, alpha),
  };
}

/** Smallest i in [lo, hi] with pred(i), for a predicate false-then-true; null if none. */
function firstTrue(lo: number, hi: number, pred: (i: number) => boolean): number | null {
  if (!pred(hi)) return null;
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = floor((a + b) / 2);
    if (pred(mid)) b = mid;
    else a = mid + 1;
  }
  return a;
}

/** Largest i in [lo, hi] with pred(i), for a predicate true-then-false; null if none. */
function lastTrue(lo: number, hi: number, pred: (i: number) => boolean): number | null {
  if (!pred(lo)) return null;
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = ceil((a + b) / 2);
    if (pred(mid)) a = mid;
    else b = mid - 1;
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Shared decision and wording

export interface CeilingCheck {
  /** The candidate is confidently above the ceiling. */
  readonly breached: boolean;
  /** The candidate is confidently below it (trivially true without a ceiling). */
  readonly clear: boolean;
}

/** With a ceiling, the guardrail makes two claims and each gets half of its alpha. */
export function splitAlpha(
  alpha: number,
  hasCeiling: boolean,
): { alphaRelative: number; alphaCeiling: number } {
  return hasCeiling
    ? { alphaRelative: alpha / 2, alphaCeiling: alpha / 2 }
    : { alphaRelative: alpha, alphaCeiling: alpha };
}

interface Evidence {
  readonly metric: GuardrailMetric;
  readonly setting: GuardrailSetting;
  readonly baseline: ArmStats;
  readonly candidate: ArmStats;
  readonly samples: { readonly baseline: number; readonly candidate: number };
  readonly values: { readonly baseline: number | null; readonly candidate: number | null };
  /** Allowed relative change; negative when lower is worse (output length). */
  readonly limit: number;
  readonly candidateInterval: ConfidenceInterval | null;
  readonly comparison: Comparison | null;
  readonly ceilingCheck: CeilingCheck;
  readonly noun: string;
  readonly format: (value: number) => string;
}

function decide(e: Evidence): GuardrailResult {
  const { setting, samples, comparison } = e;
  const lowerIsWorse = e.metric === 'outputLengthDrop';
  const ceiling = lowerIsWorse ? null : setting.absoluteCeiling;
  const beyondLimit =
    comparison !== null && (lowerIsWorse ? comparison.below(e.limit) : comparison.above(e.limit));
  const withinLimit =
    comparison !== null && (lowerIsWorse ? comparison.above(e.limit) : comparison.below(e.limit));
  const pointWithinLimit =
    comparison !== null &&
    (lowerIsWorse ? comparison.relativeChange >= e.limit : comparison.relativeChange <= e.limit);
  const pointBelowCeiling =
    ceiling === null || (e.values.candidate !== null && e.values.candidate <= ceiling);
  const enough = samples.baseline >= setting.minSamples && samples.candidate >= setting.minSamples;
  const missing =
    (e.baseline.requests >= setting.minSamples && samples.baseline === 0) ||
    (e.candidate.requests >= setting.minSamples && samples.candidate === 0);
  const facts: Facts = {
    enough,
    beyondLimit,
    pointWithinLimit,
    pointBelowCeiling,
    // The strong claim (and the only Successful before point estimates counted): the always-valid
    // interval is within the limit and the candidate confidently below the ceiling.
    proven: withinLimit && e.ceilingCheck.clear,
  };

  let verdict: GuardrailVerdict;
  if (e.ceilingCheck.breached || (enough && beyondLimit)) verdict = 'Failed';
  else if (missing) verdict = 'NoData';
  else if (!enough) verdict = 'Inconclusive';
  else if (facts.proven || (pointWithinLimit && pointBelowCeiling)) verdict = 'Successful';
  else verdict = 'Inconclusive';

  return {
    metric: e.metric,
    verdict,
    proven: verdict === 'Successful' && facts.proven,
    baseline: e.values.baseline,
    candidate: e.values.candidate,
    relativeChange: comparison?.relativeChange ?? null,
    interval: comparison?.interval ?? null,
    candidateInterval: e.candidateInterval,
    limit: e.limit,
    ceiling,
    samples,
    minSamples: setting.minSamples,
    reason: reasonFor(e, verdict, facts),
  };
}

interface Facts {
  /** Both arms have minSamples observations. */
  readonly enough: boolean;
  /** The interval is entirely beyond the limit. */
  readonly beyondLimit: boolean;
  /** The point estimate of the relative change is within the limit. */
  readonly pointWithinLimit: boolean;
  /** The candidate's point value is not above the ceiling (trivially true without one). */
  readonly pointBelowCeiling: boolean;
  /** The interval is within the limit and the candidate is confidently below the ceiling. */
  readonly proven: boolean;
}

function reasonFor(e: Evidence, verdict: GuardrailVerdict, facts: Facts): string {
  const label = GUARDRAIL_LABELS[e.metric];
  const { samples, values, comparison, setting } = e;
  const ceiling = e.metric === 'outputLengthDrop' ? null : setting.absoluteCeiling;
  const ceilingText = (): string =>
    `${label} ${values.candidate === null ? 'unknown' : e.format(values.candidate)} ` +
    `(interval ${formatInterval(e.candidateInterval, e.format)}) is above the ${e.format(ceiling ?? 0)} ceiling`;

  if (verdict === 'NoData') {
    const arm = samples.candidate === 0 ? 'candidate' : 'baseline';
    const served = arm === 'candidate' ? e.candidate.requests : e.baseline.requests;
    return `${label}: no ${e.noun} from the ${arm} after ${formatNumber(served)} requests (on missing data: ${setting.onMissingData})`;
  }
  const pair =
    `${label} ${values.candidate === null ? 'unknown' : e.format(values.candidate)} vs ` +
    `${values.baseline === null ? 'unknown' : e.format(values.baseline)} baseline`;
  if (!facts.enough) {
    const few =
      `${formatNumber(samples.candidate)} vs ${formatNumber(samples.baseline)} ${e.noun}, ` +
      `needs ${formatNumber(setting.minSamples)} per arm`;
    return verdict === 'Failed' ? `${ceilingText()} (${few})` : `${pair}: ${few}`;
  }
  const comparisonText =
    comparison === null
      ? pair
      : `${pair}, ${formatSigned(comparison.relativeChange)} (interval ${formatInterval(comparison.interval, formatSigned)}), limit ${formatSigned(e.limit)}`;
  if (verdict === 'Failed') {
    if (facts.beyondLimit && e.ceilingCheck.breached)
      return `${comparisonText}: exceeds the limit and the ceiling`;
    return facts.beyondLimit ? `${comparisonText}: exceeds the limit` : ceilingText();
  }
  if (verdict === 'Successful') {
    const within =
      ceiling === null ? 'within the limit' : `within the limit and below the ${e.format(ceiling)} ceiling`;
    return facts.proven
      ? `${comparisonText}: ${within}, proven by the interval`
      : `${comparisonText}: ${within} (point estimate; not yet proven)`;
  }
  // Inconclusive with enough samples: the point estimate is past the limit or the ceiling, but not
  // confidently (or there is no estimate to compare).
  if (comparison === null) return `${comparisonText}: not yet conclusive`;
  const past = [
    ...(facts.pointWithinLimit ? [] : ['beyond the limit']),
    ...(facts.pointBelowCeiling ? [] : [`above the ${e.format(ceiling ?? 0)} ceiling`]),
  ];
  return `${comparisonText}: ${past.join(' and ')} on the point estimate, not yet conclusive`;
}
