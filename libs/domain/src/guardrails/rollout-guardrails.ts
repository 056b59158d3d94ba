import {
  emptyArmStats,
  histogramCount,
  mergeArmStats,
  quantileFromHistogram,
  type ArmStats,
} from './arm-stats';
import {
  CLUSTER_FIELD,
  CLUSTER_FIELD_COUNT,
  EVIDENCE_CLUSTERS,
  type ArmEvidence,
  type EvidenceStratum,
} from './clustered-evidence';
import {
  oneSidedNormalMixtureMultiplier,
  proportionConfidenceInterval,
  proportionConfidentlyAbove,
  proportionConfidentlyBelow,
  type ConfidenceInterval,
} from './confidence-sequences';
import {
  combineResults,
  compareLatencyP95,
  COST_FLOOR_USD,
  latencyCeilingCheck,
  latencyHistogramOf,
  lowestBound,
  P95_TAIL,
  quantileBounds,
  splitAlpha,
  tailCounts,
  upperBound,
  withGuardrailEvaluationDefaults,
  type CeilingCheck,
  type Comparison,
  type GuardrailEvaluationOptions,
  type GuardrailRateMetric,
} from './guardrail-evaluator';
import { formatInterval, formatNumber, formatRate, formatSigned, formatUsd } from './guardrail-format';
import {
  GUARDRAIL_LABELS,
  type GuardrailReport,
  type GuardrailRequirement,
  type GuardrailResult,
  type GuardrailVerdict,
  type HarmBound,
} from './guardrail-report';
import {
  GUARDRAIL_METRICS,
  type GuardrailMetric,
  type GuardrailSetting,
  type GuardrailSettings,
} from './guardrail-settings';
import { ceil, max, round, sqrt } from './fast-math';
import type { PlanStep, RolloutPlan } from '../rollout/rollout.types';
import { stepMinimumSeconds } from '../rollout/traffic-split';

/**
 * Guardrails over a whole rollout's evidence, the way real traffic needs them (see
 * docs/guardrail-statistics.md for the why and the simulations):
 *
 * - **Concurrent, stratified.** Every comparison is candidate vs baseline *within* a routing revision
 *   (one split, both arms served at the same time), and the revisions of this attempt are pooled with
 *   Cochran-Mantel-Haenszel weights (n_c n_b / (n_c + n_b)). A daily cycle or a slow drift moves both
 *   arms of a stratum alike and cannot tilt the comparison; no step compares with the past. At 100%
 *   and in the bake the concurrent baseline is the plan's holdback.
 * - **Cluster-robust.** The variance is measured between user clusters (stickiness buckets), so a few
 *   heavy users who keep refusing count as the few users they are, not as thousands of independent
 *   requests. It is never taken below the independent-requests variance.
 * - **Always valid.** Rolling back (`Failed`: the lower bound of the relative change is past the
 *   tolerance) and the harm bound use one-sided normal-mixture confidence sequences, valid at every
 *   tick of the whole attempt.
 * - **A harm bound where it matters.** The step that leads to 100%, the 100% step and the bake pass a
 *   guardrail only when its always-valid upper bound is below `harmMultiple` x the tolerance (95%
 *   confidence by default): a candidate 1.5x past the tolerance reaches everyone in at most 5% of
 *   rollouts. Earlier steps pass on "no evidence of harm" (point estimate within the tolerance).
 * - **Mature feedback.** Ratings are compared only for answers at least `feedbackWindowSeconds` old
 *   (both arms alike), and a step does not pass on ratings before its own first answers are that old.
 * - Latency p95 is compared within the current step (quantiles do not pool across strata).
 */
export interface RolloutWindow {
  /** Every stratum of the current attempt (revisions since the rollout started or was retried). */
  readonly strata: readonly EvidenceStratum[];
  /** What this step compares with the baseline. */
  readonly candidateRole: 'candidate' | 'shadow';
  /** Revisions from this one on are the current step's. */
  readonly stepFromRevision: number;
  readonly requirement: GuardrailRequirement;
  /** How long the current step has been running (its clock: paused time excluded). */
  readonly stepAgeSeconds: number;
}

export interface RolloutGuardrailOptions extends GuardrailEvaluationOptions {
  /** The harm bound excludes this multiple of each tolerance. Default 1.5. */
  readonly harmMultiple?: number;
  /** Error level of the harm bound, per guardrail. Default 0.05. */
  readonly harmAlpha?: number;
}

export const DEFAULT_ROLLOUT_GUARDRAIL_OPTIONS: {
  readonly harmMultiple: number;
  readonly harmAlpha: number;
} = {
  harmMultiple: 1.5,
  harmAlpha: 0.05,
};

/**
 * The harm bound's confidence sequence is tightest where it is about this many standard errors
 * from the harm limit: where an identical candidate's bound crosses it.
 */
const HARM_PLANNING_Z = 4;

export interface RolloutGuardrailReport extends GuardrailReport {
  readonly requirement: GuardrailRequirement;
}

type Opts = Required<GuardrailEvaluationOptions> & typeof DEFAULT_ROLLOUT_GUARDRAIL_OPTIONS;

export function evaluateRolloutGuardrails(
  settings: GuardrailSettings,
  window: RolloutWindow,
  options: RolloutGuardrailOptions = {},
): RolloutGuardrailReport {
  const opts: Opts = {
    ...withGuardrailEvaluationDefaults(options),
    harmMultiple: options.harmMultiple ?? DEFAULT_ROLLOUT_GUARDRAIL_OPTIONS.harmMultiple,
    harmAlpha: options.harmAlpha ?? DEFAULT_ROLLOUT_GUARDRAIL_OPTIONS.harmAlpha,
  };
  if (!(opts.alpha > 0 && opts.alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${opts.alpha}`);
  const enabled = GUARDRAIL_METRICS.filter((m) => settings[m].enabled);
  const disabled = GUARDRAIL_METRICS.filter((m) => !settings[m].enabled);
  const alphaPerGuardrail = enabled.length > 0 ? opts.alpha / enabled.length : opts.alpha;
  const pooled = window.strata.filter((s) => s.candidateRole === window.candidateRole);
  const ctx: Ctx = { ...opts, alphaPerGuardrail, window, pooled };
  const results = enabled.map((metric) => evaluateOne(metric, settings[metric], ctx));

  const { verdict, decidedBy } = combineResults(settings, results);
  return {
    verdict,
    results,
    decidedBy,
    disabled,
    alpha: opts.alpha,
    alphaPerGuardrail,
    requirement: window.requirement,
  };
}

interface Ctx extends Opts {
  readonly alphaPerGuardrail: number;
  readonly window: RolloutWindow;
  /** The strata of the current step's role (canary or shadow), all revisions of the attempt. */
  readonly pooled: readonly EvidenceStratum[];
}

function evaluateOne(metric: GuardrailMetric, setting: GuardrailSetting, ctx: Ctx): GuardrailResult {
  switch (metric) {
    case 'refusalRate':
    case 'thumbsDownRate':
    case 'errorRate':
    case 'silentFailureRate':
      return evaluateRate(metric, setting, ctx);
    case 'latencyP95':
    case 'ttftP95':
      return evaluateLatency(metric, setting, ctx);
    case 'outputLengthDrop':
      return evaluateOutputLength(setting, ctx);
    case 'costPerRequest':
      return evaluateCost(setting, ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// Pooled means: stratified (CMH weights), cluster-robust

/** How one metric is read from an arm: numerator, observations, per-observation variance. */
interface MeanSource {
  /** x, n and the per-observation variance under independent observations; `mature` drops young ratings. */
  total(arm: ArmEvidence, mature: boolean): { x: number; n: number; v: number };
  clusterX(c: Float64Array, base: number): number;
  clusterN(c: Float64Array, base: number): number;
}

const F = CLUSTER_FIELD;

function rateSource(
  count: (a: ArmStats) => number,
  outOf: (a: ArmStats) => number,
  clusterX: (c: Float64Array, base: number) => number,
  clusterN: (c: Float64Array, base: number) => number,
  ratings = false,
): MeanSource {
  return {
    total(arm, mature) {
      const x = count(arm.totals) - (mature && ratings ? arm.immatureThumbsDown : 0);
      const n = outOf(arm.totals) - (mature && ratings ? arm.immatureFeedback : 0);
      // Agresti-Caffo smoothing for the variance only, so 0 of n does not claim zero uncertainty.
      const s = (x + 1) / (n + 2);
      return { x, n, v: s * (1 - s) };
    },
    clusterX,
    clusterN,
  };
}

const at = (c: Float64Array, i: number): number => c[i] ?? 0;

const RATE_SOURCES: Readonly<Record<GuardrailRateMetric, MeanSource>> = {
  refusalRate: rateSource(
    (a) => a.refusals,
    (a) => a.requests - a.errors,
    (c, b) => at(c, b + F.refusals),
    (c, b) => at(c, b + F.requests) - at(c, b + F.errors),
  ),
  thumbsDownRate: rateSource(
    (a) => a.thumbsDown,
    (a) => a.feedback,
    (c, b) => at(c, b + F.thumbsDown),
    (c, b) => at(c, b + F.feedback),
    true,
  ),
  errorRate: rateSource(
    (a) => a.errors,
    (a) => a.requests,
    (c, b) => at(c, b + F.errors),
    (c, b) => at(c, b + F.requests),
  ),
  silentFailureRate: rateSource(
    (a) => a.silentFailures,
    (a) => a.requests - a.errors,
    (c, b) => at(c, b + F.silentFailures),
    (c, b) => at(c, b + F.requests) - at(c, b + F.errors),
  ),
};

/** The mean of a per-request quantity kept as moments (n, sum, sum of squares) and per-cluster sums. */
function momentSource(
  moments: (a: ArmStats) => { readonly n: number; readonly sum: number; readonly sumSq: number },
  nField: number,
  sumField: number,
): MeanSource {
  return {
    total(arm) {
      const { n, sum, sumSq } = moments(arm.totals);
      const mean = n > 0 ? sum / n : 0;
      return { x: sum, n, v: n > 1 ? max(0, (sumSq - sum * mean) / (n - 1)) : 0 };
    },
    clusterX: (c, b) => at(c, b + sumField),
    clusterN: (c, b) => at(c, b + nField),
  };
}

const TOKEN_SOURCE = momentSource((a) => a.outputTokens, F.tokensN, F.tokensSum);
/** Cost per answered request in USD: a mean of a per-request quantity, like output tokens. */
const COST_SOURCE = momentSource((a) => a.cost, F.costN, F.costSum);

interface Pooled {
  /** Pooled candidate and baseline means (CMH-weighted over strata). */
  readonly c: number;
  readonly b: number;
  /** Variance of c - lambda b. */
  readonly variance: (lambda: number) => number;
  /** Sum of the CMH weights: the comparison is worth about this many observations per arm. */
  readonly weight: number;
  /** Observations per arm (mature ones for ratings) and the candidate's total count. */
  readonly nb: number;
  readonly nc: number;
  readonly xc: number;
  /** Design effect of the difference (lambda = 1), null without cluster data. */
  readonly designEffect: number | null;
  /** Design effect of the candidate's own mean (for the ceiling). */
  readonly candidateDesignEffect: number;
  readonly clusters: number;
  readonly strata: number;
  /** The current step's share of the weight, for how fast evidence grows. */
  readonly currentWeight: number;
}

function pool(strata: readonly EvidenceStratum[], src: MeanSource, fromRevision: number): Pooled | null {
  type S = {
    s: EvidenceStratum;
    w: number;
    cm: number;
    bm: number;
    ncAll: number;
    nbAll: number;
    cmAll: number;
    bmAll: number;
    vc: number;
    vb: number;
    vcAll: number;
    vbAll: number;
    nc: number;
    nb: number;
  };
  const used: S[] = [];
  let weight = 0;
  let nbSum = 0;
  let ncSum = 0;
  let xcSum = 0;
  let currentWeight = 0;
  for (const s of strata) {
    const tc = src.total(s.candidate, true);
    const tb = src.total(s.baseline, true);
    nbSum += max(0, tb.n);
    ncSum += max(0, tc.n);
    xcSum += max(0, tc.x);
    if (!(tc.n > 0 && tb.n > 0)) continue;
    const ac = src.total(s.candidate, false);
    const ab = src.total(s.baseline, false);
    const w = (tc.n * tb.n) / (tc.n + tb.n);
    weight += w;
    if (s.revision >= fromRevision) currentWeight += w;
    used.push({
      s,
      w,
      cm: tc.x / tc.n,
      bm: tb.x / tb.n,
      ncAll: ac.n,
      nbAll: ab.n,
      cmAll: ac.x / ac.n,
      bmAll: ab.x / ab.n,
      vc: tc.v,
      vb: tb.v,
      vcAll: ac.v,
      vbAll: ab.v,
      nc: tc.n,
      nb: tb.n,
    });
  }
  if (used.length === 0) return null;
  let c = 0;
  let b = 0;
  // Independent-observations variance of c - lambda b: I0 + lambda² I2 (mature data), J for all data.
  let i0 = 0;
  let i2 = 0;
  let j0 = 0;
  let j2 = 0;
  for (const u of used) {
    const f = u.w / weight;
    c += f * u.cm;
    b += f * u.bm;
    i0 += (f * f * u.vc) / u.nc;
    i2 += (f * f * u.vb) / u.nb;
    j0 += (f * f * u.vcAll) / u.ncAll;
    j2 += (f * f * u.vbAll) / u.nbAll;
  }
  // Influence of each cluster on c and on b: sum over strata of (x_g - mean n_g) / N, CMH-weighted.
  let aa = 0;
  let ab = 0;
  let bb = 0;
  let clusters = 0;
  for (let g = 0; g < EVIDENCE_CLUSTERS; g++) {
    const base = g * CLUSTER_FIELD_COUNT;
    let alpha = 0;
    let beta = 0;
    let seen = false;
    for (const u of used) {
      const f = u.w / weight;
      const cc = u.s.candidate.clusters;
      const bc = u.s.baseline.clusters;
      const nCg = src.clusterN(cc, base);
      const nBg = src.clusterN(bc, base);
      if (nCg > 0 || nBg > 0) seen = true;
      alpha += (f * (src.clusterX(cc, base) - u.cmAll * nCg)) / u.ncAll;
      beta += (f * (src.clusterX(bc, base) - u.bmAll * nBg)) / u.nbAll;
    }
    if (!seen) continue;
    clusters++;
    aa += alpha * alpha;
    ab += alpha * beta;
    bb += beta * beta;
  }
  const small = clusters > 1 ? clusters / (clusters - 1) : 0;
  const robustAll = (l: number): number => small * max(0, aa - 2 * l * ab + l * l * bb);
  const iid = (l: number): number => i0 + l * l * i2;
  const iidAll = (l: number): number => j0 + l * l * j2;
  const hasClusters = clusters > 1 && aa + bb > 0;
  // Between-cluster variance, measured on all the data and scaled to the mature part; never below
  // what independent observations would give.
  const variance = (l: number): number => {
    const v = iid(l);
    if (!hasClusters) return v;
    const all = iidAll(l);
    return max(v, all > 0 ? (robustAll(l) * v) / all : 0);
  };
  return {
    c,
    b,
    variance,
    weight,
    nb: nbSum,
    nc: ncSum,
    xc: xcSum,
    designEffect: hasClusters && iidAll(1) > 0 ? robustAll(1) / iidAll(1) : null,
    candidateDesignEffect: hasClusters && j0 > 0 ? max(1, (small * aa) / j0) : 1,
    clusters,
    strata: used.length,
    currentWeight,
  };
}

// ---------------------------------------------------------------------------------------------
// Relative comparisons with one-sided confidence sequences

/**
 * r = (c - b) / max(b, floor). "r > s" is the conjunction (s >= 0) of C1 = c - (1 + s) b > 0 and
 * C2 = c - b - s floor > 0; "r < s" is their disjunction (see guardrail-evaluator.ts). A claim that
 * is a disjunction splits its alpha between the two contrasts, so every claim holds at its level.
 */
function relative(p: Pooled, floor: number) {
  const d = p.c - p.b;
  const sd = (l: number): number => sqrt(max(0, p.variance(l)));
  const c1Above = (s: number, z: number): boolean => d - s * p.b - z * sd(1 + s) > 0;
  const c2Above = (s: number, z: number): boolean => d - s * floor - z * sd(1) > 0;
  const c1Below = (s: number, z: number): boolean => d - s * p.b + z * sd(1 + s) < 0;
  const c2Below = (s: number, z: number): boolean => d - s * floor + z * sd(1) < 0;
  return {
    relativeChange: d / max(p.b, floor),
    /** Variance of the relative change (its scale at the current baseline). */
    relativeVariance: p.variance(1) / max(p.b, floor) ** 2,
    /** Confidently r > s; zAnd for a conjunction, zOr (at half the alpha) for a disjunction. */
    above: (s: number, zAnd: number, zOr: number): boolean =>
      s >= 0 ? c1Above(s, zAnd) && c2Above(s, zAnd) : c1Above(s, zOr) || c2Above(s, zOr),
    below: (s: number, zAnd: number, zOr: number): boolean =>
      s >= 0 ? c1Below(s, zOr) || c2Below(s, zOr) : c1Below(s, zAnd) && c2Below(s, zAnd),
  };
}

interface Judged {
  readonly comparison: Comparison;
  readonly harm: HarmBound;
}

/**
 * The comparison at the rollback level (each side one-sided at `alphaFail`), plus the harm bound at
 * `harmAlpha`. `lowerIsWorse` for output length (limit -m).
 */
function judgePooled(
  p: Pooled,
  floor: number,
  limit: number,
  alphaFail: number,
  ctx: Ctx,
  lowerIsWorse: boolean,
): Judged {
  const rel = relative(p, floor);
  const zFail = oneSidedNormalMixtureMultiplier(p.weight / ctx.planningSamples, alphaFail);
  const zFailOr = oneSidedNormalMixtureMultiplier(p.weight / ctx.planningSamples, alphaFail / 2);
  const harmLimit = ctx.harmMultiple * limit;
  const planned = (harmLimit / HARM_PLANNING_Z) ** 2;
  const info = rel.relativeVariance > 0 ? planned / rel.relativeVariance : 0;
  const zHarm = oneSidedNormalMixtureMultiplier(info, ctx.harmAlpha);
  const zHarmOr = oneSidedNormalMixtureMultiplier(info, ctx.harmAlpha / 2);
  const above = (s: number): boolean => rel.above(s, zFail, zFailOr);
  const below = (s: number): boolean => rel.below(s, zFail, zFailOr);
  const comparison: Comparison = {
    relativeChange: rel.relativeChange,
    interval: { lower: lowestBound(above), upper: upperBound(below) },
    above,
    below,
  };
  const harmBelow = (s: number): boolean => rel.below(s, zHarm, zHarmOr);
  const harmAbove = (s: number): boolean => rel.above(s, zHarm, zHarmOr);
  const shown = lowerIsWorse ? harmAbove(harmLimit) : harmBelow(harmLimit);
  const bound = lowerIsWorse ? lowestBound(harmAbove) : upperBound(harmBelow);
  // How much more evidence would put the bound at the limit, if the estimate held: the radius
  // shrinks with the square root of the evidence.
  let needed: HarmBound['needed'] = null;
  const room = lowerIsWorse ? rel.relativeChange - harmLimit : harmLimit - rel.relativeChange;
  if (!shown && room > 0 && rel.relativeVariance > 0) {
    const factor = max(1, (zHarm * sqrt(rel.relativeVariance)) / room) ** 2;
    const pace = p.currentWeight / max(1, ctx.window.stepAgeSeconds);
    needed = {
      factor,
      seconds: pace > 0 ? ((factor - 1) * p.weight) / pace : null,
    };
  }
  return {
    comparison,
    harm: { limit: harmLimit, bound, shown, alpha: ctx.harmAlpha, needed },
  };
}

// ---------------------------------------------------------------------------------------------
// The guardrails

function evaluateRate(metric: GuardrailRateMetric, setting: GuardrailSetting, ctx: Ctx): GuardrailResult {
  const src = RATE_SOURCES[metric];
  const p = pool(ctx.pooled, src, ctx.window.stepFromRevision);
  const ceiling = setting.absoluteCeiling;
  const { alphaRelative, alphaCeiling } = splitAlpha(ctx.alphaPerGuardrail, ceiling !== null);
  const totals = armTotals(ctx.pooled, src);
  // The candidate alone against the ceiling: exact Bernoulli sequence on counts shrunk by the
  // candidate's design effect (its effective sample).
  const deff = p?.candidateDesignEffect ?? 1;
  const xc = totals.candidate.x / deff;
  const nc = totals.candidate.n / deff;
  const ceilingCheck: CeilingCheck =
    ceiling === null
      ? { breached: false, clear: true }
      : {
          breached: proportionConfidentlyAbove(xc, nc, ceiling, alphaCeiling),
          clear: proportionConfidentlyBelow(xc, nc, ceiling, alphaCeiling),
        };
  const judged = p
    ? judgePooled(p, ctx.rateFloor, setting.maxRelativeIncrease, alphaRelative, ctx, false)
    : null;
  const isRatings = metric === 'thumbsDownRate';
  const windowSeconds = isRatings ? (setting.feedbackWindowSeconds ?? 0) : 0;
  return decide({
    metric,
    setting,
    ctx,
    pooled: p,
    totals,
    values: {
      baseline: p ? p.b : totals.baseline.n > 0 ? totals.baseline.x / totals.baseline.n : null,
      candidate: p ? p.c : totals.candidate.n > 0 ? totals.candidate.x / totals.candidate.n : null,
    },
    limit: setting.maxRelativeIncrease,
    candidateInterval: nc > 0 ? proportionConfidenceInterval(xc, nc, alphaCeiling) : null,
    judged,
    ceilingCheck,
    noun: isRatings ? 'ratings' : metric === 'errorRate' ? 'requests' : 'responses',
    format: formatRate,
    window: 'rollout',
    feedbackWindow: isRatings
      ? {
          seconds: windowSeconds,
          waitingSeconds: max(0, windowSeconds - ctx.window.stepAgeSeconds),
          immature: {
            baseline: sumOver(ctx.pooled, (s) => s.baseline.immatureFeedback),
            candidate: sumOver(ctx.pooled, (s) => s.candidate.immatureFeedback),
          },
        }
      : null,
  });
}

function evaluateOutputLength(setting: GuardrailSetting, ctx: Ctx): GuardrailResult {
  const p = pool(ctx.pooled, TOKEN_SOURCE, ctx.window.stepFromRevision);
  const { alphaRelative } = splitAlpha(ctx.alphaPerGuardrail, false);
  const judged = p
    ? judgePooled(p, ctx.outputTokensFloor, -setting.maxRelativeIncrease, alphaRelative, ctx, true)
    : null;
  const totals = armTotals(ctx.pooled, TOKEN_SOURCE);
  return decide({
    metric: 'outputLengthDrop',
    setting,
    ctx,
    pooled: p,
    totals,
    values: { baseline: p?.b ?? null, candidate: p?.c ?? null },
    limit: -setting.maxRelativeIncrease,
    candidateInterval: null,
    judged,
    ceilingCheck: { breached: false, clear: true },
    noun: 'responses with token counts',
    format: (v) => `${formatNumber(v)} tokens`,
    window: 'rollout',
    feedbackWindow: null,
  });
}

/**
 * Cost per answered request, higher is worse: a quantized model that answers longer, or a dearer
 * output price, shows here even when every quality guardrail is fine. Off by default.
 */
function evaluateCost(setting: GuardrailSetting, ctx: Ctx): GuardrailResult {
  const p = pool(ctx.pooled, COST_SOURCE, ctx.window.stepFromRevision);
  const { alphaRelative } = splitAlpha(ctx.alphaPerGuardrail, false);
  const judged = p
    ? judgePooled(p, COST_FLOOR_USD, setting.maxRelativeIncrease, alphaRelative, ctx, false)
    : null;
  return decide({
    metric: 'costPerRequest',
    setting,
    ctx,
    pooled: p,
    totals: armTotals(ctx.pooled, COST_SOURCE),
    values: { baseline: p?.b ?? null, candidate: p?.c ?? null },
    limit: setting.maxRelativeIncrease,
    candidateInterval: null,
    judged,
    ceilingCheck: { breached: false, clear: true },
    noun: 'priced answers',
    format: formatUsd,
    window: 'rollout',
    feedbackWindow: null,
  });
}

/**
 * Latency p95 (or time to first token p95 of streamed answers) within the current step (quantiles
 * of different strata do not pool).
 */
function evaluateLatency(
  metric: 'latencyP95' | 'ttftP95',
  setting: GuardrailSetting,
  ctx: Ctx,
): GuardrailResult {
  const current = ctx.pooled.filter((s) => s.revision >= ctx.window.stepFromRevision);
  const baselineArm = sumTotals(current.map((s) => s.baseline));
  const candidateArm = sumTotals(current.map((s) => s.candidate));
  const baseline = { requests: baselineArm.requests, latency: latencyHistogramOf(metric, baselineArm) };
  const candidate = { requests: candidateArm.requests, latency: latencyHistogramOf(metric, candidateArm) };
  const nb = histogramCount(baseline.latency);
  const nc = histogramCount(candidate.latency);
  const ceiling = setting.absoluteCeiling;
  const { alphaRelative, alphaCeiling } = splitAlpha(ctx.alphaPerGuardrail, ceiling !== null);
  const tailC = tailCounts(candidate.latency);
  const ceilingCheck: CeilingCheck =
    ceiling === null
      ? { breached: false, clear: true }
      : latencyCeilingCheck(tailC, nc, ceiling, alphaCeiling);
  const comparison = compareLatencyP95(baseline.latency, candidate.latency, alphaRelative / 2);
  const harmComparison = compareLatencyP95(baseline.latency, candidate.latency, ctx.harmAlpha / 2);
  const harmLimit = ctx.harmMultiple * setting.maxRelativeIncrease;
  const judged: Judged | null =
    comparison && harmComparison
      ? {
          comparison,
          harm: {
            limit: harmLimit,
            bound: harmComparison.interval.upper,
            shown: harmComparison.below(harmLimit),
            alpha: ctx.harmAlpha,
            needed: null,
          },
        }
      : null;
  const n = { x: 0, n: 0, v: 0 };
  return decide({
    metric,
    setting,
    ctx,
    pooled: null,
    totals: {
      baseline: { ...n, n: nb },
      candidate: { ...n, n: nc },
      requests: { baseline: baseline.requests, candidate: candidate.requests },
    },
    values: {
      baseline: quantileFromHistogram(baseline.latency, 1 - P95_TAIL),
      candidate: quantileFromHistogram(candidate.latency, 1 - P95_TAIL),
    },
    limit: setting.maxRelativeIncrease,
    candidateInterval: nc > 0 ? quantileBounds(tailC, nc, alphaCeiling) : null,
    judged,
    ceilingCheck,
    noun: metric === 'ttftP95' ? 'streamed responses' : 'responses',
    format: (v) => `${formatNumber(v)} ms`,
    window: 'step',
    ...(metric === 'ttftP95' ? { missingAfterRequests: 1 } : {}),
    steps: current.filter(
      (s) =>
        histogramCount(latencyHistogramOf(metric, s.baseline.totals)) > 0 &&
        histogramCount(latencyHistogramOf(metric, s.candidate.totals)) > 0,
    ).length,
    feedbackWindow: null,
  });
}

interface Totals {
  readonly baseline: { readonly x: number; readonly n: number };
  readonly candidate: { readonly x: number; readonly n: number };
  /** Requests served per arm (for "missing data"). */
  readonly requests: { readonly baseline: number; readonly candidate: number };
}

function armTotals(strata: readonly EvidenceStratum[], src: MeanSource): Totals {
  const acc = {
    baseline: { x: 0, n: 0 },
    candidate: { x: 0, n: 0 },
    requests: { baseline: 0, candidate: 0 },
  };
  for (const s of strata) {
    const b = src.total(s.baseline, true);
    const c = src.total(s.candidate, true);
    acc.baseline.x += b.x;
    acc.baseline.n += b.n;
    acc.candidate.x += c.x;
    acc.candidate.n += c.n;
    acc.requests.baseline += s.baseline.totals.requests;
    acc.requests.candidate += s.candidate.totals.requests;
  }
  return acc;
}

/** The arms' totals summed (one revision, the usual case, is returned as it is). */
function sumTotals(arms: readonly ArmEvidence[]): ArmStats {
  if (arms.length === 1 && arms[0]) return arms[0].totals;
  return arms.reduce((a, b) => mergeArmStats(a, b.totals), emptyArmStats());
}

function sumOver(strata: readonly EvidenceStratum[], f: (s: EvidenceStratum) => number): number {
  let total = 0;
  for (const s of strata) total += f(s);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Decision and wording

interface Evidence {
  readonly metric: GuardrailMetric;
  readonly setting: GuardrailSetting;
  readonly ctx: Ctx;
  readonly pooled: Pooled | null;
  readonly totals: Totals;
  readonly values: { readonly baseline: number | null; readonly candidate: number | null };
  readonly limit: number;
  readonly candidateInterval: ConfidenceInterval | null;
  readonly judged: Judged | null;
  readonly ceilingCheck: CeilingCheck;
  readonly noun: string;
  readonly format: (value: number) => string;
  readonly window: 'rollout' | 'step';
  readonly steps?: number;
  readonly feedbackWindow: GuardrailResult['feedbackWindow'] | null;
  /**
   * Requests an arm serves before having no samples means "no data" (default minSamples). Streamed
   * answers: from the first answer, so traffic that does not stream is not held for their minimum.
   */
  readonly missingAfterRequests?: number;
}

function decide(e: Evidence): GuardrailResult {
  const { setting, judged, ctx } = e;
  const lowerIsWorse = e.metric === 'outputLengthDrop';
  const ceiling = lowerIsWorse ? null : setting.absoluteCeiling;
  const comparison = judged?.comparison ?? null;
  const samples = { baseline: e.totals.baseline.n, candidate: e.totals.candidate.n };
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
  // Ratings still inside their feedback window are on their way, not missing.
  const immature = e.feedbackWindow?.immature ?? { baseline: 0, candidate: 0 };
  const missingAfter = e.missingAfterRequests ?? setting.minSamples;
  const missing =
    (e.totals.requests.baseline >= missingAfter && samples.baseline + immature.baseline <= 0) ||
    (e.totals.requests.candidate >= missingAfter && samples.candidate + immature.candidate <= 0);
  const waiting = (e.feedbackWindow?.waitingSeconds ?? 0) > 0;
  const harmShown = judged?.harm.shown ?? false;
  const needsHarmBound = ctx.window.requirement === 'harmBound';

  let verdict: GuardrailVerdict;
  if (e.ceilingCheck.breached || (enough && beyondLimit)) verdict = 'Failed';
  else if (missing) verdict = 'NoData';
  else if (!enough) verdict = 'Inconclusive';
  else if (!needsHarmBound) verdict = 'Successful';
  else if (waiting || !pointWithinLimit || !pointBelowCeiling || !harmShown) verdict = 'Inconclusive';
  else verdict = 'Successful';

  const p = e.pooled;
  const deff = p?.designEffect ?? null;
  const shrink = max(1, deff ?? 1);
  const result: GuardrailResult = {
    metric: e.metric,
    verdict,
    proven: verdict === 'Successful' && withinLimit && e.ceilingCheck.clear,
    baseline: e.values.baseline,
    candidate: e.values.candidate,
    relativeChange: comparison?.relativeChange ?? null,
    interval: comparison?.interval ?? null,
    candidateInterval: e.candidateInterval,
    limit: e.limit,
    ceiling,
    samples,
    minSamples: setting.minSamples,
    reason: '',
    evidence: {
      window: e.window,
      steps: e.steps ?? p?.strata ?? 0,
      clusters: p?.clusters ?? 0,
      designEffect: deff,
      effectiveSamples: {
        baseline: round(samples.baseline / shrink),
        candidate: round(samples.candidate / shrink),
      },
    },
    requirement: ctx.window.requirement,
    ...(judged ? { harm: judged.harm } : {}),
    ...(e.feedbackWindow ? { feedbackWindow: e.feedbackWindow } : {}),
  };
  return {
    ...result,
    reason: reasonFor(e, result, { enough, beyondLimit, pointWithinLimit, pointBelowCeiling, waiting }),
  };
}

interface Facts {
  readonly enough: boolean;
  readonly beyondLimit: boolean;
  readonly pointWithinLimit: boolean;
  readonly pointBelowCeiling: boolean;
  readonly waiting: boolean;
}

function reasonFor(e: Evidence, r: GuardrailResult, facts: Facts): string {
  const label = GUARDRAIL_LABELS[e.metric];
  const { samples, verdict } = r;
  const ceiling = r.ceiling;
  const valueText = (v: number | null): string => (v === null ? 'unknown' : e.format(v));
  const ceilingText = (): string =>
    `${label} ${valueText(r.candidate)} (interval ${formatInterval(e.candidateInterval, e.format)}) is above the ${e.format(ceiling ?? 0)} ceiling`;
  if (verdict === 'NoData') {
    const arm = samples.candidate <= 0 ? 'candidate' : 'baseline';
    const served = arm === 'candidate' ? e.totals.requests.candidate : e.totals.requests.baseline;
    return `${label}: no ${e.noun} from the ${arm} after ${formatNumber(served)} requests (on missing data: ${e.setting.onMissingData})`;
  }
  const pair = `${label} ${valueText(r.candidate)} vs ${valueText(r.baseline)} baseline`;
  const how = methodText(r);
  if (!facts.enough) {
    const few =
      `${formatNumber(samples.candidate)} vs ${formatNumber(samples.baseline)} ${e.noun}, ` +
      `needs ${formatNumber(e.setting.minSamples)} per arm`;
    return verdict === 'Failed' ? `${ceilingText()} (${few})` : `${pair}: ${few}`;
  }
  const comparisonText =
    r.relativeChange === null || r.interval === null
      ? pair
      : `${pair}, ${formatSigned(r.relativeChange)} (interval ${formatInterval(r.interval, formatSigned)}), limit ${formatSigned(r.limit)}`;
  if (verdict === 'Failed') {
    const text = facts.beyondLimit
      ? e.ceilingCheck.breached
        ? `${comparisonText}: exceeds the limit and the ceiling`
        : `${comparisonText}: exceeds the limit`
      : ceilingText();
    return `${text}${how}`;
  }
  if (facts.waiting) {
    const wait = r.feedbackWindow?.waitingSeconds ?? 0;
    return `${comparisonText}: waiting for feedback on this step's answers (${formatDuration(wait)} more of its ${formatDuration(r.feedbackWindow?.seconds ?? 0)} window)${how}`;
  }
  const harm = r.harm;
  const harmText =
    harm && harm.bound !== null
      ? `${e.metric === 'outputLengthDrop' ? 'at least' : 'at most'} ${formatSigned(harm.bound)} with ${round((1 - harm.alpha) * 100)}% confidence (bound ${formatSigned(harm.limit)})`
      : harm
        ? `not yet bounded (bound ${formatSigned(harm.limit)})`
        : '';
  if (verdict === 'Successful') {
    const within =
      ceiling === null ? 'within the limit' : `within the limit and below the ${e.format(ceiling)} ceiling`;
    return r.requirement === 'harmBound'
      ? `${comparisonText}: ${within}, ${harmText}${how}`
      : `${comparisonText}: ${within}${r.proven ? ', proven by the interval' : ' (point estimate; not yet proven)'}${how}`;
  }
  if (!facts.pointWithinLimit || !facts.pointBelowCeiling) {
    const past = [
      ...(facts.pointWithinLimit ? [] : ['beyond the limit']),
      ...(facts.pointBelowCeiling ? [] : [`above the ${e.format(ceiling ?? 0)} ceiling`]),
    ];
    return `${comparisonText}: ${past.join(' and ')} on the point estimate, not yet conclusive${how}`;
  }
  const needed = harm?.needed;
  const more = needed
    ? `; needs about ${needed.factor.toFixed(1)}x the evidence so far${needed.seconds !== null ? ` (~${formatDuration(needed.seconds)} at this step's pace)` : ''}`
    : '';
  return `${comparisonText}: within the limit, not yet shown safe: ${harmText}${more}${how}`;
}

function methodText(r: GuardrailResult): string {
  const ev = r.evidence;
  if (!ev) return '';
  const where = ev.window === 'rollout' ? `${ev.steps} step${ev.steps === 1 ? '' : 's'} pooled` : 'this step';
  const users = ev.clusters > 0 ? `, ${ev.clusters} user clusters` : '';
  const deff = ev.designEffect !== null ? `, design effect ${max(1, ev.designEffect).toFixed(1)}` : '';
  return ` [${where}${users}${deff}]`;
}

/** 7260 -> "2h 1m", 90 -> "2m", 30 -> "30s". */
export function formatDuration(seconds: number): string {
  const s = max(0, round(seconds));
  if (s < 60) return `${s}s`;
  const m = ceil(s / 60);
  if (m < 60) return `${m}m`;
  const h = (m / 60) | 0;
  if (h < 48) return `${h}h${m % 60 ? ` ${m % 60}m` : ''}`;
  return `${round(h / 24)} days`;
}

/**
 * The feedback window a step uses: the rollout's, but never longer than the step's own minimum
 * duration (a plan of minutes does not wait hours for ratings; the default 48 h steps keep 6 h).
 */
export function effectiveFeedbackWindowSeconds(
  settings: GuardrailSettings,
  plan: RolloutPlan,
  stepIndex: number,
): number {
  const window = settings.thumbsDownRate.feedbackWindowSeconds ?? 0;
  const step = plan.steps[stepIndex];
  // A gate waits for a person, not a clock: nothing caps the window there.
  const minimum = step ? stepMinimumSeconds(step) : null;
  return minimum === null ? window : Math.min(window, minimum);
}

/**
 * What a step requires: the harm bound for the gate to everyone, i.e. the last step that serves
 * part of the traffic before the first step that serves (nearly) everyone (setWeight 100 or a
 * bake), or that first full step itself when nothing comes before it; "no evidence of harm" for
 * every other step. Once a candidate has passed the gate, the 100% step and the bake keep watching
 * for harm (Failed, at every tick, on the concurrent holdback) but do not ask for the bound again: a
 * confidence sequence is valid at all times at once, so what it showed at the gate stays shown.
 */
export function stepRequirement(plan: RolloutPlan, stepIndex: number): GuardrailRequirement {
  const steps = plan.steps;
  const full = (s: PlanStep): boolean => s.type === 'bake' || (s.type === 'setWeight' && s.weight >= 100);
  const serves = (s: PlanStep): boolean => s.type === 'shadow' || s.type === 'setWeight' || s.type === 'bake';
  const firstFull = steps.findIndex(full);
  if (firstFull < 0) return 'harmBound';
  let gate = firstFull;
  for (let i = firstFull - 1; i >= 0; i--) {
    const s = steps[i];
    if (s && serves(s)) {
      gate = i;
      break;
    }
  }
  return stepIndex === gate ? 'harmBound' : 'noEvidenceOfHarm';
}
