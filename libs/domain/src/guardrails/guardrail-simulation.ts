import {
  emptyArmStats,
  histogramCount,
  latencyBucketIndex,
  quantileFromHistogram,
  type ArmStats,
} from './arm-stats';
import {
  evaluateGuardrails,
  GUARDRAIL_RATE_SOURCES,
  type GuardrailEvaluationOptions,
  withGuardrailEvaluationDefaults,
} from './guardrail-evaluator';
import type { GuardrailsVerdict } from './guardrail-report';
import {
  DEFAULT_GUARDRAILS,
  GUARDRAIL_METRICS,
  type GuardrailMetric,
  type GuardrailSettings,
} from './guardrail-settings';
import { PI, cos, exp, imul, log, max, min, round, sin, sqrt } from './fast-math';

/**
 * Monte-Carlo check of the guardrail statistics: stream synthetic requests into a baseline and a
 * candidate arm and run one rollout step the way the control plane does: evaluate at every look (the
 * analyzer's tick), roll back at the first Failed look, promote at the first Successful look once the
 * step's minimum has passed, otherwise hold until the step's traffic runs out. Pure and seeded, so a
 * run is reproducible.
 */

/** How one version behaves, per request. */
export interface SimulatedArm {
  readonly errorRate: number;
  /** Share of successful responses that refuse. */
  readonly refusalRate: number;
  /** Share of successful responses that are empty (silent failures). */
  readonly silentFailureRate: number;
  /** Share of successful responses the user rates. */
  readonly feedbackRate: number;
  /** Share of ratings that are thumbs-down. */
  readonly thumbsDownRate: number;
  /** Completion tokens of a normal answer: lognormal with this median and log-sd. */
  readonly outputTokens: { readonly median: number; readonly sigma: number };
  /** Completion tokens of a refusal ("I can't help with that…"). */
  readonly refusalTokens: number;
  /** Latency = time to first token (lognormal) + completion tokens * msPerToken. */
  readonly latency: {
    readonly ttftMedianMs: number;
    readonly ttftSigma: number;
    readonly msPerToken: number;
  };
}

/**
 * A chat model as seen at a router: 1% errors, 4% refusals, 2% empty answers, 10% of answers rated
 * with 10% of ratings thumbs-down; answers of ~240 tokens on average (lognormal, median 200) decoded
 * at 15 ms/token after a ~350 ms time to first token, so latency has a median of ~3.4 s and a p95
 * of ~8.5 s.
 */
export const TYPICAL_CHAT_ARM: SimulatedArm = {
  errorRate: 0.01,
  refusalRate: 0.04,
  silentFailureRate: 0.02,
  feedbackRate: 0.1,
  thumbsDownRate: 0.1,
  outputTokens: { median: 200, sigma: 0.6 },
  refusalTokens: 30,
  latency: { ttftMedianMs: 350, ttftSigma: 0.5, msPerToken: 15 },
};

/**
 * 'sequential': evaluateGuardrails (Failed always-valid, Successful on point estimates).
 * 'naive': what Flagger-style analysis does, a fixed threshold on the point estimate at every look
 * once minSamples are in, in both directions (naiveThresholdCheck): it passes as the
 * sequential policy does on point estimates, but it also fails on a point estimate.
 */
export type SimulationPolicy = 'sequential' | 'naive';

export interface SimulationConfig {
  readonly runs: number;
  readonly seed: number;
  readonly baseline: SimulatedArm;
  readonly candidate: SimulatedArm;
  /** Requests each arm receives between two looks (the analyzer's tick). */
  readonly requestsPerLook: number;
  /**
   * The step's minimum duration, in requests per arm: a Successful look promotes only once this many
   * have been served (a Failed look rolls back at any time). Default 1000.
   */
  readonly minRequestsPerArmBeforePromotion?: number;
  /** Requests per arm in the step; a rollout neither rolled back nor promoted by then is undecided. */
  readonly maxRequestsPerArm: number;
  readonly policy: SimulationPolicy;
  readonly settings?: GuardrailSettings;
  readonly options?: GuardrailEvaluationOptions;
}

export const DEFAULT_MIN_REQUESTS_PER_ARM_BEFORE_PROMOTION = 1000;

export interface SimulationResult {
  readonly policy: SimulationPolicy;
  readonly runs: number;
  /** Share of runs rolled back (a Failed look before any promotion). */
  readonly rollbacks: number;
  /** Share of runs promoted (a Successful look once the step's minimum had passed, before any Failed). */
  readonly promotions: number;
  /** Share of runs neither rolled back nor promoted by maxRequestsPerArm. */
  readonly undecided: number;
  /** Requests per arm served when the rollback happened (median over rolled-back runs). */
  readonly medianRequestsPerArmToRollback: number | null;
  /** The same for both arms together. */
  readonly medianRequestsToRollback: number | null;
  /**
   * Requests per arm at the first Successful look, even one before the step's minimum (median over
   * runs that had one before they ended).
   */
  readonly medianRequestsPerArmToSuccess: number | null;
  /** Requests per arm served when the promotion happened (median over promoted runs). */
  readonly medianRequestsPerArmToPromotion: number | null;
  /** Share of promoted runs in which every guardrail was proven by its interval at the promotion. */
  readonly provenAtPromotion: number;
  /** Share of runs each guardrail failed in at the rollback (several can fail at once). */
  readonly rollbacksBy: Readonly<Record<GuardrailMetric, number>>;
}

interface Look {
  readonly verdict: GuardrailsVerdict;
  readonly failed: readonly GuardrailMetric[];
  /** Every guardrail proven by its interval (always false for the naive check). */
  readonly proven: boolean;
}

export function simulateRollouts(config: SimulationConfig): SimulationResult {
  const settings = config.settings ?? DEFAULT_GUARDRAILS;
  const minBeforePromotion =
    config.minRequestsPerArmBeforePromotion ?? DEFAULT_MIN_REQUESTS_PER_ARM_BEFORE_PROMOTION;
  const check = (b: ArmStats, c: ArmStats): Look => {
    if (config.policy === 'naive')
      return { ...naiveThresholdCheck(settings, b, c, config.options), proven: false };
    const report = evaluateGuardrails(settings, b, c, config.options);
    return {
      verdict: report.verdict,
      failed: report.verdict === 'Failed' ? report.decidedBy : [],
      proven: report.results.every((r) => r.proven),
    };
  };

  const rollbackAt: number[] = [];
  const successAt: number[] = [];
  const promotionAt: number[] = [];
  let proven = 0;
  const failedCount = Object.fromEntries(GUARDRAIL_METRICS.map((m) => [m, 0])) as Record<
    GuardrailMetric,
    number
  >;
  const baselineSampler = armSampler(config.baseline, config.seed);
  const candidateSampler = armSampler(config.candidate, config.seed);
  for (let run = 0; run < config.runs; run++) {
    const random = seededRandom(mixSeed(config.seed, run));
    const baseline = emptyArmStats();
    const candidate = emptyArmStats();
    let served = 0;
    let firstSuccess: number | null = null;
    while (served < config.maxRequestsPerArm) {
      const batch = min(config.requestsPerLook, config.maxRequestsPerArm - served);
      for (let i = 0; i < batch; i++) {
        simulateRequest(baseline, baselineSampler, random);
        simulateRequest(candidate, candidateSampler, random);
      }
      served += batch;
      const look = check(baseline, candidate);
      if (look.verdict === 'Failed') {
        rollbackAt.push(served);
        for (const m of look.failed) failedCount[m] += 1;
        break;
      }
      if (look.verdict === 'Successful') {
        firstSuccess ??= served;
        if (served >= minBeforePromotion) {
          promotionAt.push(served);
          if (look.proven) proven += 1;
          break;
        }
      }
    }
    if (firstSuccess !== null) successAt.push(firstSuccess);
  }
  const runs = max(1, config.runs);
  const medianPerArm = median(rollbackAt);
  return {
    policy: config.policy,
    runs: config.runs,
    rollbacks: rollbackAt.length / runs,
    promotions: promotionAt.length / runs,
    undecided: (config.runs - rollbackAt.length - promotionAt.length) / runs,
    medianRequestsPerArmToRollback: medianPerArm,
    medianRequestsToRollback: medianPerArm === null ? null : 2 * medianPerArm,
    medianRequestsPerArmToSuccess: median(successAt),
    medianRequestsPerArmToPromotion: median(promotionAt),
    provenAtPromotion: promotionAt.length > 0 ? proven / promotionAt.length : 0,
    rollbacksBy: Object.fromEntries(GUARDRAIL_METRICS.map((m) => [m, failedCount[m] / runs])) as Record<
      GuardrailMetric,
      number
    >,
  };
}

/**
 * The fixed-threshold check Flagger-style canary analysis runs at every interval, for comparison only:
 * once both arms have minSamples, fail when the point estimate is past the limit (candidate rate above
 * baseline + m * max(baseline, floor), p95 above (1 + m) * baseline p95, mean output below
 * baseline - m * baseline, or above the ceiling); pass when every guardrail has samples and none failed.
 * It ignores sampling noise, which is the point of the comparison.
 */
export function naiveThresholdCheck(
  settings: GuardrailSettings,
  baseline: ArmStats,
  candidate: ArmStats,
  options: GuardrailEvaluationOptions = {},
): { verdict: GuardrailsVerdict; failed: GuardrailMetric[] } {
  const opts = withGuardrailEvaluationDefaults(options);
  const failed: GuardrailMetric[] = [];
  let undecided = false;
  for (const metric of GUARDRAIL_METRICS) {
    const s = settings[metric];
    if (!s.enabled) continue;
    const point = naivePoint(metric, baseline, candidate);
    if (point === null || point.nb < s.minSamples || point.nc < s.minSamples) {
      undecided = true;
      continue;
    }
    const { b, c } = point;
    const m = s.maxRelativeIncrease;
    let fails: boolean;
    if (metric === 'outputLengthDrop') fails = c - b < -m * max(b, opts.outputTokensFloor);
    else if (metric === 'latencyP95')
      fails = c > (1 + m) * b || (s.absoluteCeiling !== null && c > s.absoluteCeiling);
    else fails = c - b > m * max(b, opts.rateFloor) || (s.absoluteCeiling !== null && c > s.absoluteCeiling);
    if (fails) failed.push(metric);
  }
  const verdict: GuardrailsVerdict = failed.length > 0 ? 'Failed' : undecided ? 'Inconclusive' : 'Successful';
  return { verdict, failed };
}

function naivePoint(
  metric: GuardrailMetric,
  baseline: ArmStats,
  candidate: ArmStats,
): { b: number; c: number; nb: number; nc: number } | null {
  if (metric === 'latencyP95' || metric === 'ttftP95') {
    const hist = (a: ArmStats) => (metric === 'ttftP95' ? a.ttft : a.latency);
    const b = quantileFromHistogram(hist(baseline), 0.95);
    const c = quantileFromHistogram(hist(candidate), 0.95);
    if (b === null || c === null) return null;
    return { b, c, nb: histogramCount(hist(baseline)), nc: histogramCount(hist(candidate)) };
  }
  if (metric === 'outputLengthDrop') {
    const nb = baseline.outputTokens.n;
    const nc = candidate.outputTokens.n;
    if (nb === 0 || nc === 0) return null;
    return { b: baseline.outputTokens.sum / nb, c: candidate.outputTokens.sum / nc, nb, nc };
  }
  if (metric === 'costPerRequest') {
    const nb = baseline.cost.n;
    const nc = candidate.cost.n;
    if (nb === 0 || nc === 0) return null;
    return { b: baseline.cost.sum / nb, c: candidate.cost.sum / nc, nb, nc };
  }
  const src = GUARDRAIL_RATE_SOURCES[metric];
  const nb = src.outOf(baseline);
  const nc = src.outOf(candidate);
  if (nb === 0 || nc === 0) return null;
  return { b: src.count(baseline) / nb, c: src.count(candidate) / nc, nb, nc };
}

/**
 * Pre-drawn (latency bucket, completion tokens) pairs per kind of answer. Drawing lognormals and
 * bucketing them per request dominated the simulation's run time; resampling from 8192 draws keeps
 * the distributions (and makes identical profiles share identical tables, as an A/A test wants).
 */
const TABLE_SIZE = 8192;

interface AnswerTable {
  readonly bucket: Uint16Array;
  readonly tokens: Uint32Array;
}

interface ArmSampler {
  readonly profile: SimulatedArm;
  readonly answer: AnswerTable;
  readonly refusal: AnswerTable;
  readonly empty: AnswerTable;
}

function armSampler(profile: SimulatedArm, seed: number): ArmSampler {
  const random = seededRandom(seed ^ 0x5eed7ab1);
  const table = (tokensOf: () => number): AnswerTable => {
    const bucket = new Uint16Array(TABLE_SIZE);
    const tokens = new Uint32Array(TABLE_SIZE);
    for (let j = 0; j < TABLE_SIZE; j++) {
      const t = tokensOf();
      const ttft = profile.latency.ttftMedianMs * exp(profile.latency.ttftSigma * random.normal());
      tokens[j] = t;
      bucket[j] = latencyBucketIndex(ttft + t * profile.latency.msPerToken);
    }
    return { bucket, tokens };
  };
  const { median: tokenMedian, sigma } = profile.outputTokens;
  return {
    profile,
    answer: table(() => max(1, round(tokenMedian * exp(sigma * random.normal())))),
    refusal: table(() => profile.refusalTokens),
    empty: table(() => 0),
  };
}

/**
 * One request into `arm`, with the same accounting as recordOutcome/recordFeedback (whose own tests
 * pin it down) but without per-request logarithms.
 */
function simulateRequest(arm: ArmStats, sampler: ArmSampler, random: SeededRandom): void {
  const p = sampler.profile;
  arm.requests += 1;
  if (random.next() < p.errorRate) {
    arm.errors += 1;
    return;
  }
  const u = random.next();
  let table = sampler.answer;
  if (u < p.refusalRate) {
    arm.refusals += 1;
    table = sampler.refusal;
  } else if (u < p.refusalRate + p.silentFailureRate) {
    arm.silentFailures += 1;
    table = sampler.empty;
  }
  const j = (random.next() * TABLE_SIZE) | 0;
  const bucket = table.bucket[j] ?? 0;
  const tokens = table.tokens[j] ?? 0;
  arm.latency.counts[bucket] = (arm.latency.counts[bucket] ?? 0) + 1;
  arm.outputTokens.n += 1;
  arm.outputTokens.sum += tokens;
  arm.outputTokens.sumSq += tokens * tokens;
  if (random.next() < p.feedbackRate) {
    arm.feedback += 1;
    if (random.next() < p.thumbsDownRate) arm.thumbsDown += 1;
  }
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export interface SeededRandom {
  /** Uniform in [0, 1); a plain function, safe to take off the object for a hot loop. */
  readonly next: () => number;
  /** Standard normal. */
  normal(): number;
}

/**
 * sfc32 (Doty-Humphrey's small fast counting generator), seeded through splitmix32. The state lives
 * in a typed array: 32-bit values kept in closure variables would be boxed on every step, which made
 * drawing a number cost more than the simulated request it was drawn for.
 */
export function seededRandom(seed: number): SeededRandom {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = imul(z ^ (z >>> 16), 0x85ebca6b);
    z = imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const st = new Int32Array(4);
  st[0] = splitmix();
  st[1] = splitmix();
  st[2] = splitmix();
  st[3] = splitmix();
  const next = (): number => {
    const a = st[0] ?? 0;
    const b = st[1] ?? 0;
    const c = st[2] ?? 0;
    const d = st[3] ?? 0;
    const t = (((a + b) | 0) + d) | 0;
    st[3] = (d + 1) | 0;
    st[0] = b ^ (b >>> 9);
    st[1] = (c + (c << 3)) | 0;
    st[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  const spare = new Float64Array(1);
  let hasSpare = false;
  return {
    next,
    normal(): number {
      if (hasSpare) {
        hasSpare = false;
        return spare[0] ?? 0;
      }
      // Box-Muller; 1 - next() keeps the logarithm finite.
      const r = sqrt(-2 * log(1 - next()));
      const theta = 2 * PI * next();
      spare[0] = r * sin(theta);
      hasSpare = true;
      return r * cos(theta);
    },
  };
}

/** A per-run seed, so runs are independent and any single run can be replayed. */
function mixSeed(seed: number, run: number): number {
  return (imul(seed >>> 0, 0x9e3779b1) ^ imul(run + 1, 0x85ebca77)) >>> 0;
}
