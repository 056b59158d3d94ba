import { emptyArmStats, LATENCY_BUCKETS_MS, type ArmStats } from './arm-stats';
import {
  CLUSTER_FIELD,
  CLUSTER_FIELD_COUNT,
  EVIDENCE_CLUSTERS,
  emptyClusters,
  type EvidenceStratum,
} from './clustered-evidence';
import { projectedSecondsToDecide, type GuardrailReport } from './guardrail-report';
import {
  DEFAULT_GUARDRAILS,
  GUARDRAIL_METRICS,
  type GuardrailMetric,
  type GuardrailSettings,
} from './guardrail-settings';
import { DEFAULT_GUARDRAIL_EVALUATION } from './guardrail-evaluator';
import { seededRandom, type SeededRandom } from './guardrail-simulation';
import { judgeRolloutStep, judgeStepLegacy } from './rollout-step-analysis';
import { effectiveFeedbackWindowSeconds, type RolloutGuardrailOptions } from './rollout-guardrails';
import { DEFAULT_PLAN, withoutDeadlines } from '../rollout/rollout-plan';
import { initialState, transition } from '../rollout/rollout-state-machine';
import { deriveSplit, stepMinimumSeconds } from '../rollout/traffic-split';
import type { AnalysisVerdict, RolloutPlan, RolloutState } from '../rollout/rollout.types';
import { PI, exp, floor, imul, log, log2, max, min, pow, round, sin, sqrt } from './fast-math';

/**
 * Whole rollouts on simulated real traffic, judged by the real step logic: the rollout state
 * machine (`transition`, `deriveSplit` with the plan's holdback), the window rules
 * (`judgeRolloutStep`: strata by revision, pooling, what the 100% step compares with, feedback
 * maturity) and the evaluator, at every tick. What the traffic has that independent, stationary,
 * equal-arm requests do not:
 *
 * - sticky users with their own propensities (beta-distributed per user) making from one to dozens
 *   of requests, in 100 stickiness clusters independent of the arm assignment, some unsticky traffic;
 * - arms as the plan sets them (5% vs 95% ...), shadow copies of baseline traffic;
 * - a daily cycle in volume and in mix, and a slow drift, that move both arms alike;
 * - low base rates (errors ~0.1%, refusals ~0.5%, ratings on ~2% of answers);
 * - feedback that arrives minutes to hours later, thumbs-down faster than thumbs-up;
 * - heavy-tailed latency with a slow share, per-user and load factors, and timeouts (errors).
 *
 * Pure and seeded: a run is reproducible from (scenario, seed, run index).
 */

/** A per-user propensity: mean, and how concentrated it is (Beta(mean k, (1 - mean) k)); null k: the same for everyone. */
export interface Propensity {
  readonly mean: number;
  readonly concentration: number | null;
}

export interface TrafficModel {
  readonly requestsPer48h: number;
  /**
   * Expected requests per sticky user: a power law on [min, max], over the plan's whole minimum time
   * ('rollout': a large user base, most users seen a few times) or per 48 hours ('step': a smaller,
   * very active user base that keeps coming back all rollout long).
   */
  readonly requestsPerUser: {
    readonly min: number;
    readonly max: number;
    readonly exponent: number;
    readonly per: 'rollout' | 'step';
  };
  /** Share of requests without a stickiness key (independent, random cluster). */
  readonly unstickyShare: number;
  /** Volume ∝ 1 + A sin(2π t / day). */
  readonly dailyVolumeAmplitude: number;
  /** Refusal, empty-answer and thumbs-down propensities ∝ (1 + B sin(2π t / day + phase)) (1 + D days). */
  readonly dailyMixAmplitude: number;
  readonly driftPerDay: number;
  readonly errors: Propensity;
  readonly refusals: Propensity;
  readonly emptyAnswers: Propensity;
  /** Share of answers a user rates. */
  readonly rated: Propensity;
  /** Share of a user's ratings that are thumbs-down. */
  readonly thumbsDown: Propensity;
  /** Seconds from answer to rating: lognormal medians and a shared log-sd; 0 medians: instant. */
  readonly feedbackDelay: {
    readonly downMedianSeconds: number;
    readonly upMedianSeconds: number;
    readonly sigma: number;
  };
  readonly latency: {
    readonly ttftMedianMs: number;
    readonly ttftSigma: number;
    readonly msPerToken: number;
    /** Per-user factor (prompt length), lognormal log-sd. */
    readonly userSigma: number;
    /** A share of requests queues: that many times slower. */
    readonly slowShare: number;
    readonly slowFactor: number;
    /** Load: latency ∝ 1 + L sin(2π t / day). */
    readonly dailyLoadAmplitude: number;
    /** Slower than this is a timeout (an error, no answer). */
    readonly timeoutMs: number;
  };
  readonly tokens: {
    readonly median: number;
    readonly sigma: number;
    readonly userSigma: number;
    readonly refusal: number;
  };
}

/** The candidate's difference from the baseline: one guardrail's true relative change at `multiple` x its tolerance. */
export interface CandidateHarm {
  readonly metric: GuardrailMetric;
  readonly multiple: number;
}

export type RolloutPolicy = 'rollout-wide' | 'legacy';

/**
 * The default plan as it shipped before the progress deadlines and the holdback: a step that could not
 * decide held for ever. The 'legacy' policy runs it, to show what the old statistics did.
 */
export const PLAN_BEFORE_DEADLINES: RolloutPlan = {
  ...withoutDeadlines(DEFAULT_PLAN),
  holdbackPercent: 0,
};

export interface RolloutScenario {
  readonly name: string;
  readonly traffic: TrafficModel;
  readonly harm: CandidateHarm | null;
  readonly policy: RolloutPolicy;
  /** A plan other than the policy's own (DEFAULT_PLAN, or PLAN_BEFORE_DEADLINES for 'legacy'). */
  readonly plan?: RolloutPlan;
  readonly settings?: GuardrailSettings;
  readonly options?: RolloutGuardrailOptions;
  /** Seconds between two looks (the control plane's tick; every tick is a look). */
  readonly tickSeconds: number;
  /** Stop a run that has not finished by this many times the plan's total minimum ('stuck'). */
  readonly horizonFactor?: number;
  /** Called with every look's report (diagnostics and tests). */
  readonly onLook?: (look: {
    readonly seconds: number;
    readonly stepIndex: number;
    readonly report: GuardrailReport;
  }) => void;
}

export type RunOutcome = 'completed' | 'rolledBack' | 'stuck';

export interface RunResult {
  readonly outcome: RunOutcome;
  /** Rolled back by a Failed verdict, or by the deadline of a step that could not decide. */
  readonly rolledBackBy: 'guardrails' | 'deadline' | null;
  readonly failedGuardrails: readonly GuardrailMetric[];
  /** Index of the step the run ended in. */
  readonly finalStep: number;
  /** Seconds from start to the end (completion, rollback or horizon). */
  readonly seconds: number;
  /** Requests served (both arms, shadow copies excluded) until then. */
  readonly requests: number;
  /** Whether (and when) the candidate reached the 100% step. */
  readonly reachedFullAt: number | null;
}

export interface ScenarioSummary {
  readonly scenario: string;
  readonly policy: RolloutPolicy;
  readonly harm: CandidateHarm | null;
  readonly runs: number;
  readonly rolledBack: Proportion;
  readonly rolledBackByGuardrails: Proportion;
  /** Rolled back because a step could not decide by its deadline. */
  readonly rolledBackByDeadline: Proportion;
  readonly reachedFull: Proportion;
  readonly completed: Proportion;
  readonly stuck: Proportion;
  /** Rolled back before the plan's total minimum time had passed. */
  readonly rolledBackInPlanTime: Proportion;
  readonly medianSecondsToRollback: number | null;
  readonly medianRequestsToRollback: number | null;
  readonly medianSecondsToComplete: number | null;
  readonly planSeconds: number;
  /** The true relative change the harm gives (calibrated on the population). */
  readonly trueRelativeChange: number | null;
}

export interface Proportion {
  readonly count: number;
  readonly share: number;
  /** Wilson 95% interval. */
  readonly lower: number;
  readonly upper: number;
}

// ---------------------------------------------------------------------------------------------
// Traffic as seen at the 200k requests / 48 h the issue asks about

/**
 * The realistic default: 200k requests per 48 h, sticky users making 1-50 requests each over the
 * rollout (power law, mean ~7; ~175,000 users), the top 3% of them making two thirds of the
 * refusals and half the thumbs-down; daily cycles (volume ±60%, mix ±20%), a drift of +1.5% a day
 * in refusal, empty-answer and thumbs-down propensity (both arms); errors 0.1% (plus timeouts),
 * refusals 0.5%, empty answers 0.2%, 2% of answers rated, a quarter of ratings thumbs-down;
 * thumbs-down after a median 10 minutes, thumbs-up after 3 hours; latency ~3 s median with a 2%
 * queueing tail 6x slower and 60 s timeouts.
 */
export const REALISTIC_TRAFFIC: TrafficModel = {
  requestsPer48h: 200_000,
  requestsPerUser: { min: 1, max: 50, exponent: 1.5, per: 'rollout' },
  unstickyShare: 0.05,
  dailyVolumeAmplitude: 0.6,
  dailyMixAmplitude: 0.2,
  driftPerDay: 0.015,
  errors: { mean: 0.001, concentration: 100 },
  refusals: { mean: 0.005, concentration: 18 },
  emptyAnswers: { mean: 0.002, concentration: 100 },
  rated: { mean: 0.02, concentration: 20 },
  thumbsDown: { mean: 0.25, concentration: 3 },
  feedbackDelay: { downMedianSeconds: 600, upMedianSeconds: 3 * 3600, sigma: 1.2 },
  latency: {
    ttftMedianMs: 350,
    ttftSigma: 0.5,
    msPerToken: 12,
    userSigma: 0.3,
    slowShare: 0.02,
    slowFactor: 6,
    dailyLoadAmplitude: 0.2,
    timeoutMs: 60_000,
  },
  tokens: { median: 200, sigma: 0.6, userSigma: 0.3, refusal: 30 },
};

/**
 * A smaller, very active user base: the same ~27,000 users make 1-50 requests every 48 h, all
 * rollout long (heavy users make hundreds), so per-user correlation is far stronger.
 */
export const HEAVY_USERS_TRAFFIC: TrafficModel = {
  ...REALISTIC_TRAFFIC,
  requestsPerUser: { ...REALISTIC_TRAFFIC.requestsPerUser, per: 'step' },
};

/** The same traffic with one feature at a time (the rest independent, stationary, instant). */
const STICKY_TRAFFIC: TrafficModel = {
  ...independentOf(REALISTIC_TRAFFIC),
  unstickyShare: REALISTIC_TRAFFIC.unstickyShare,
  errors: REALISTIC_TRAFFIC.errors,
  refusals: REALISTIC_TRAFFIC.refusals,
  emptyAnswers: REALISTIC_TRAFFIC.emptyAnswers,
  rated: REALISTIC_TRAFFIC.rated,
  thumbsDown: REALISTIC_TRAFFIC.thumbsDown,
  latency: { ...independentOf(REALISTIC_TRAFFIC).latency, userSigma: REALISTIC_TRAFFIC.latency.userSigma },
  tokens: { ...REALISTIC_TRAFFIC.tokens },
};

export const ISOLATED: Readonly<
  Record<'sticky' | 'heavyUsers' | 'drift' | 'lateFeedback' | 'independent', TrafficModel>
> = {
  independent: independentOf(REALISTIC_TRAFFIC),
  sticky: STICKY_TRAFFIC,
  heavyUsers: { ...STICKY_TRAFFIC, requestsPerUser: HEAVY_USERS_TRAFFIC.requestsPerUser },
  drift: {
    ...independentOf(REALISTIC_TRAFFIC),
    dailyVolumeAmplitude: REALISTIC_TRAFFIC.dailyVolumeAmplitude,
    dailyMixAmplitude: REALISTIC_TRAFFIC.dailyMixAmplitude,
    driftPerDay: REALISTIC_TRAFFIC.driftPerDay,
    latency: {
      ...independentOf(REALISTIC_TRAFFIC).latency,
      dailyLoadAmplitude: REALISTIC_TRAFFIC.latency.dailyLoadAmplitude,
    },
  },
  lateFeedback: { ...independentOf(REALISTIC_TRAFFIC), feedbackDelay: REALISTIC_TRAFFIC.feedbackDelay },
};

function independentOf(t: TrafficModel): TrafficModel {
  const flat = (p: Propensity): Propensity => ({ mean: p.mean, concentration: null });
  return {
    ...t,
    unstickyShare: 1,
    dailyVolumeAmplitude: 0,
    dailyMixAmplitude: 0,
    driftPerDay: 0,
    errors: flat(t.errors),
    refusals: flat(t.refusals),
    emptyAnswers: flat(t.emptyAnswers),
    rated: flat(t.rated),
    thumbsDown: flat(t.thumbsDown),
    feedbackDelay: { downMedianSeconds: 0, upMedianSeconds: 0, sigma: 0 },
    latency: { ...t.latency, userSigma: 0, dailyLoadAmplitude: 0 },
    tokens: { ...t.tokens, userSigma: 0 },
  };
}

// ---------------------------------------------------------------------------------------------
// Running scenarios

const DAY = 24 * 3600;
/** Distinct draws kept per propensity; users pick from them (a bootstrap of the population). */
const POOL = 1 << 17;
const TABLE = 8192;

export function simulateScenario(scenario: RolloutScenario, runs: number, seed: number): ScenarioSummary {
  const model = prepare(scenario, seed);
  const results: RunResult[] = [];
  for (let run = 0; run < runs; run++) results.push(simulateRun(model, mixSeed(seed, run)));
  return summarize(scenario, model, results);
}

/** One run, for tests that look inside. */
export function simulateScenarioRun(scenario: RolloutScenario, seed: number, run: number): RunResult {
  return simulateRun(prepare(scenario, seed), mixSeed(seed, run));
}

interface Prepared {
  readonly scenario: RolloutScenario;
  readonly plan: RolloutPlan;
  readonly settings: GuardrailSettings;
  readonly planSeconds: number;
  readonly users: number;
  /** Expected requests of each sticky user in `activitySeconds`. */
  readonly activity: Float64Array;
  readonly activitySeconds: number;
  readonly pools: Readonly<
    Record<'errors' | 'refusals' | 'emptyAnswers' | 'rated' | 'thumbsDown', Float32Array>
  >;
  /** Multipliers of the candidate's propensities, latency and tokens (1 = same as the baseline). */
  readonly factor: Readonly<
    Record<'errors' | 'refusals' | 'emptyAnswers' | 'thumbsDown' | 'latency' | 'tokens', number>
  >;
  readonly trueRelativeChange: number | null;
  readonly log2Timeout: number;
  readonly log2SlowFactor: number;
  /**
   * Pre-drawn answers: completion tokens and log2 of the latency of a normal answer, a refusal and an
   * empty one (time to first token + tokens x ms/token). Per-request factors (the user, the load, the
   * queueing tail, the candidate) multiply the latency, so they add to its log2.
   */
  readonly answers: {
    readonly tokens: Float32Array;
    readonly log2Answer: Float32Array;
    readonly log2Refusal: Float32Array;
    readonly log2Empty: Float32Array;
  };
}

function prepare(scenario: RolloutScenario, seed: number): Prepared {
  const t = scenario.traffic;
  const random = seededRandom(seed ^ 0x51a7e);
  const plan: RolloutPlan =
    scenario.plan ?? (scenario.policy === 'legacy' ? PLAN_BEFORE_DEADLINES : DEFAULT_PLAN);
  const planSeconds = plan.steps.reduce((s, step) => s + (stepMinimumSeconds(step) ?? 0), 0);
  const { min: lo, max: hi, exponent: g } = t.requestsPerUser;
  const meanPerUser =
    g === 2
      ? log(hi / lo) / (1 / lo - 1 / hi)
      : (hi ** (2 - g) - lo ** (2 - g)) / (2 - g) / ((hi ** (1 - g) - lo ** (1 - g)) / (1 - g));
  // The seconds the per-user counts are for.
  const activitySeconds = t.requestsPerUser.per === 'rollout' ? planSeconds : 2 * DAY;
  const users = max(
    1,
    round(((t.requestsPer48h / (2 * DAY)) * activitySeconds * (1 - t.unstickyShare)) / meanPerUser),
  );
  const weights = new Float64Array(users);
  for (let u = 0; u < users; u++) {
    const v = random.next();
    weights[u] =
      g === 1 ? lo * (hi / lo) ** v : (lo ** (1 - g) + v * (hi ** (1 - g) - lo ** (1 - g))) ** (1 / (1 - g));
  }
  const pool = (p: Propensity): Float32Array => {
    const out = new Float32Array(POOL);
    for (let i = 0; i < POOL; i++)
      out[i] = p.concentration === null ? p.mean : betaSample(random, p.mean, p.concentration);
    return out;
  };
  const pools = {
    errors: pool(t.errors),
    refusals: pool(t.refusals),
    emptyAnswers: pool(t.emptyAnswers),
    rated: pool(t.rated),
    thumbsDown: pool(t.thumbsDown),
  };
  const answers = {
    tokens: new Float32Array(TABLE),
    log2Answer: new Float32Array(TABLE),
    log2Refusal: new Float32Array(TABLE),
    log2Empty: new Float32Array(TABLE),
  };
  for (let j = 0; j < TABLE; j++) {
    const ttft = t.latency.ttftMedianMs * exp(t.latency.ttftSigma * random.normal());
    const tokens = max(1, round(t.tokens.median * exp(t.tokens.sigma * random.normal())));
    answers.tokens[j] = tokens;
    answers.log2Answer[j] = log2(ttft + tokens * t.latency.msPerToken);
    answers.log2Refusal[j] = log2(ttft + t.tokens.refusal * t.latency.msPerToken);
    answers.log2Empty[j] = log2(ttft);
  }
  const settings = scenario.settings ?? DEFAULT_GUARDRAILS;
  const factor = { errors: 1, refusals: 1, emptyAnswers: 1, thumbsDown: 1, latency: 1, tokens: 1 };
  let trueRelativeChange: number | null = null;
  if (scenario.harm) {
    const h = scenario.harm;
    const m = settings[h.metric].maxRelativeIncrease;
    const target = h.multiple * m;
    trueRelativeChange = h.metric === 'outputLengthDrop' ? -target : target;
    const floor = scenario.options?.rateFloor ?? DEFAULT_GUARDRAIL_EVALUATION.rateFloor;
    switch (h.metric) {
      case 'errorRate':
        factor.errors = calibrate(pools.errors, weights, target, floor, timeoutShare(t, answers));
        break;
      case 'refusalRate':
        factor.refusals = calibrate(pools.refusals, weights, target, floor, 0);
        break;
      case 'silentFailureRate':
        factor.emptyAnswers = calibrate(pools.emptyAnswers, weights, target, floor, 0);
        break;
      case 'thumbsDownRate':
        factor.thumbsDown = calibrate(pools.thumbsDown, weights, target, floor, 0, pools.rated);
        break;
      case 'latencyP95':
        factor.latency = 1 + target;
        break;
      case 'outputLengthDrop':
        factor.tokens = 1 - target;
        break;
    }
  }
  return {
    scenario,
    plan,
    settings,
    planSeconds,
    users,
    activity: weights,
    activitySeconds,
    pools,
    factor,
    trueRelativeChange,
    answers,
    log2Timeout: log2(t.latency.timeoutMs),
    log2SlowFactor: log2(t.latency.slowFactor),
  };
}

/**
 * The multiplier f of every user's propensity (capped at 1) that gives the population the target
 * relative change, with the guardrail's floor: c - b = target * max(b, floor). Request-weighted (and
 * rating-weighted for thumbs-down) over a sample of users; `extra` is a rate both arms share (timeouts).
 */
function calibrate(
  pool: Float32Array,
  weights: Float64Array,
  target: number,
  floor: number,
  extra: number,
  ratedPool?: Float32Array,
): number {
  const n = min(pool.length, weights.length);
  const rate = (f: number): number => {
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      const w = (weights[i] ?? 0) * (ratedPool ? (ratedPool[(i * 7919) % ratedPool.length] ?? 0) : 1);
      num += w * min(1, f * (pool[i] ?? 0));
      den += w;
    }
    return den > 0 ? num / den + extra : 0;
  };
  const b = rate(1);
  const want = b + target * max(b, floor);
  let lo = 1;
  let hi = 2;
  while (rate(hi) < want && hi < 1e6) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (rate(mid) < want) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Share of requests that time out at the baseline's latency (an error both arms share). */
function timeoutShare(t: TrafficModel, answers: Prepared['answers']): number {
  let slow = 0;
  for (let j = 0; j < TABLE; j++) {
    const ms = 2 ** (answers.log2Answer[j] ?? 0);
    if (ms > t.latency.timeoutMs) slow += 1 - t.latency.slowShare;
    if (ms * t.latency.slowFactor > t.latency.timeoutMs) slow += t.latency.slowShare;
  }
  return slow / TABLE;
}

// ---------------------------------------------------------------------------------------------
// One run

/** Where an arm's counts go. */
interface ArmCounters {
  readonly totals: ArmStats;
  readonly clusters: Float64Array;
  /** Ratings and thumbs-down by the tick their answer was served in (for the feedback window). */
  readonly ratingsByTick: Float64Array;
  readonly downsByTick: Float64Array;
}

interface Stratum {
  readonly revision: number;
  readonly role: 'candidate' | 'shadow';
  readonly baseline: ArmCounters;
  readonly candidate: ArmCounters;
}

const CF = CLUSTER_FIELD;
/** A simulated user's record: its alias-table entry, propensities, factors, cluster and arm bucket. */
const UF = {
  err: 0,
  ref: 1,
  emp: 2,
  rate: 3,
  down: 4,
  lat: 5,
  tok: 6,
  ltok: 7,
  cluster: 8,
  bucket: 9,
} as const;
const USER_FIELDS = 10;
const LN2 = log(2);

/**
 * Every sticky request of a run, as user indices grouped by tick (offsets[i]..offsets[i + 1]) and in
 * user order inside a tick. User u makes Poisson(activity_u x horizon / plan time) requests, each in
 * a tick drawn in proportion to the daily volume cycle.
 */
function scheduleRequests(
  model: Prepared,
  random: SeededRandom,
  ticks: number,
): { offsets: Int32Array; users: Int32Array } {
  const t = model.scenario.traffic;
  const tick = model.scenario.tickSeconds;
  const weights = new Float64Array(ticks);
  for (let i = 0; i < ticks; i++)
    weights[i] = max(0, 1 + t.dailyVolumeAmplitude * sin((2 * PI * i * tick) / DAY));
  const pickTick = aliasTable(weights);
  const scale = (ticks * tick) / model.activitySeconds;
  const next = random.next;
  const perUser = new Int32Array(model.users);
  let total = 0;
  for (let u = 0; u < model.users; u++) {
    const k = poisson(random, (model.activity[u] ?? 0) * scale);
    perUser[u] = k;
    total += k;
  }
  const tickOf = new Int32Array(total);
  const counts = new Int32Array(ticks + 1);
  for (let n = 0; n < total; n++) {
    const c = (next() * ticks) | 0;
    const i = next() < (pickTick.prob[c] ?? 1) ? c : (pickTick.alias[c] ?? c);
    tickOf[n] = i;
    counts[i + 1] = (counts[i + 1] ?? 0) + 1;
  }
  const offsets = new Int32Array(ticks + 1);
  for (let i = 0; i < ticks; i++) offsets[i + 1] = (offsets[i] ?? 0) + (counts[i + 1] ?? 0);
  const fill = offsets.slice(0, ticks);
  const users = new Int32Array(total);
  let n = 0;
  for (let u = 0; u < model.users; u++) {
    for (let k = perUser[u] ?? 0; k > 0; k--) {
      const i = tickOf[n++] ?? 0;
      const at = fill[i] ?? 0;
      users[at] = u;
      fill[i] = at + 1;
    }
  }
  return { offsets, users };
}

function poisson(random: SeededRandom, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 40) return max(0, round(mean + sqrt(mean) * random.normal()));
  // Inversion: the first k where the cumulative probability passes a uniform draw.
  let p = exp(-mean);
  let cdf = p;
  const u = random.next();
  let k = 0;
  while (u > cdf && k < 1000) {
    k++;
    p *= mean / k;
    cdf += p;
  }
  return k;
}
const LAST_EDGE = LATENCY_BUCKETS_MS.length;

function simulateRun(model: Prepared, seed: number): RunResult {
  const { scenario, plan, settings } = model;
  const t = scenario.traffic;
  const random = seededRandom(seed);
  const next = random.next;
  const tick = scenario.tickSeconds;
  const horizon = model.planSeconds * (scenario.horizonFactor ?? 2);
  const maxTicks = ceilDiv(horizon, tick) + 2;

  // Users: propensities drawn from the pools, a cluster and an arm bucket each, independent.
  const U = model.users;
  const users = new Float32Array(U * USER_FIELDS);
  const pools = model.pools;
  for (let u = 0; u < U; u++) {
    const o = u * USER_FIELDS;
    users[o + UF.err] = pools.errors[(next() * POOL) | 0] ?? 0;
    users[o + UF.ref] = pools.refusals[(next() * POOL) | 0] ?? 0;
    users[o + UF.emp] = pools.emptyAnswers[(next() * POOL) | 0] ?? 0;
    users[o + UF.rate] = pools.rated[(next() * POOL) | 0] ?? 0;
    users[o + UF.down] = pools.thumbsDown[(next() * POOL) | 0] ?? 0;
    users[o + UF.lat] = t.latency.userSigma > 0 ? (t.latency.userSigma * random.normal()) / LN2 : 0;
    const tok = t.tokens.userSigma > 0 ? exp(t.tokens.userSigma * random.normal()) : 1;
    users[o + UF.tok] = tok;
    users[o + UF.ltok] = log2(tok);
    users[o + UF.cluster] = (next() * EVIDENCE_CLUSTERS) | 0;
    users[o + UF.bucket] = (next() * 100) | 0;
  }
  // Their requests over the horizon: a Poisson number each, at times that follow the daily volume
  // cycle, grouped by tick in user order (so a tick reads the user records front to back).
  const schedule = scheduleRequests(model, random, maxTicks);
  const meanErr = t.errors.mean;
  const meanRef = t.refusals.mean;
  const meanEmp = t.emptyAnswers.mean;
  const meanRate = t.rated.mean;
  const meanDown = t.thumbsDown.mean;
  const f = model.factor;
  const l2HarmLat = log2(f.latency);
  const l2HarmTok = log2(f.tokens);

  const strata: Stratum[] = [];
  const arm = (): ArmCounters => ({
    totals: emptyArmStats(),
    clusters: emptyClusters(),
    ratingsByTick: new Float64Array(maxTicks),
    downsByTick: new Float64Array(maxTicks),
  });
  // Ratings waiting to arrive, by arrival tick: [stratum, isCandidate, cluster, servedTick, down] packed.
  const pending = new Map<number, number[]>();

  let state: RolloutState = transition(initialState(plan), { type: 'start', actor: SIM_ACTOR }, at(0)).state;
  let stepStart = 0;
  let current: Stratum = newStratum();
  let served = 0;
  let reachedFullAt: number | null = null;
  const fullIndex = plan.steps.findIndex((s) => s.type === 'setWeight' && s.weight >= 100);

  function newStratum(): Stratum {
    const step = plan.steps[state.stepIndex];
    const s: Stratum = {
      revision: strata.length + 1,
      role: step?.type === 'shadow' ? 'shadow' : 'candidate',
      baseline: arm(),
      candidate: arm(),
    };
    strata.push(s);
    return s;
  }

  // The feedback window per step (the rollout's, capped at the step's minimum), in ticks.
  const windowTicksOf = (stepIndex: number): number =>
    scenario.policy === 'legacy' ? 0 : effectiveFeedbackWindowSeconds(settings, plan, stepIndex) / tick;

  for (let i = 0; i < maxTicks; i++) {
    const t0 = i * tick;
    const split = deriveSplit(state);
    const weight = split.candidateWeight;
    const shadowRate = split.shadowSampleRate ?? 0;
    const day = t0 / DAY;
    const phase = 2 * PI * day;
    const volume = 1 + t.dailyVolumeAmplitude * sin(phase);
    const mix = (1 + t.dailyMixAmplitude * sin(phase + 1)) * (1 + t.driftPerDay * day);
    const log2Load = log2(1 + t.latency.dailyLoadAmplitude * sin(phase + 0.5));
    const mean = (t.requestsPer48h / (2 * DAY)) * tick * volume * t.unstickyShare;
    const unsticky = mean > 0 ? max(0, round(mean + sqrt(mean) * random.normal())) : 0;
    const from = schedule.offsets[i] ?? 0;
    const to = schedule.offsets[i + 1] ?? from;
    const count = to - from + unsticky;
    served += count;
    for (let r = 0; r < count; r++) {
      let o = -1;
      let g: number;
      let candidate: boolean;
      if (r >= to - from) {
        g = (next() * EVIDENCE_CLUSTERS) | 0;
        candidate = next() * 100 < weight;
      } else {
        o = (schedule.users[from + r] ?? 0) * USER_FIELDS;
        g = users[o + UF.cluster] ?? 0;
        candidate = (users[o + UF.bucket] ?? 0) < weight;
      }
      const sticky = o >= 0;
      const pe = sticky ? (users[o + UF.err] ?? 0) : meanErr;
      const pr = min(1, (sticky ? (users[o + UF.ref] ?? 0) : meanRef) * mix);
      const pm = min(1, (sticky ? (users[o + UF.emp] ?? 0) : meanEmp) * mix);
      const l2Lat = (sticky ? (users[o + UF.lat] ?? 0) : 0) + log2Load;
      const tok = sticky ? (users[o + UF.tok] ?? 1) : 1;
      const l2Tok = sticky ? (users[o + UF.ltok] ?? 0) : 0;
      const servedBy = candidate ? current.candidate : current.baseline;
      const answer = candidate
        ? record(
            servedBy,
            g,
            pe * f.errors,
            pr * f.refusals,
            pm * f.emptyAnswers,
            l2Lat + l2HarmLat,
            tok * f.tokens,
            l2Tok + l2HarmTok,
            next,
            model,
          )
        : record(servedBy, g, pe, pr, pm, l2Lat, tok, l2Tok, next, model);
      if (answer) {
        const pRated = sticky ? (users[o + UF.rate] ?? 0) : meanRate;
        if (next() < pRated) {
          const pd = min(
            1,
            (sticky ? (users[o + UF.down] ?? 0) : meanDown) * mix * (candidate ? f.thumbsDown : 1),
          );
          const down = next() < pd;
          const d = t.feedbackDelay;
          const median = down ? d.downMedianSeconds : d.upMedianSeconds;
          const delay = median > 0 ? median * exp(d.sigma * random.normal()) : 0;
          const arrive = t0 + next() * tick + delay;
          const key = max(i, floor(arrive / tick));
          let list = pending.get(key);
          if (!list) pending.set(key, (list = []));
          list.push(current.revision - 1, candidate ? 1 : 0, g, i, down ? 1 : 0);
        }
      }
      if (!candidate && shadowRate > 0 && next() < shadowRate) {
        record(
          current.candidate,
          g,
          pe * f.errors,
          pr * f.refusals,
          pm * f.emptyAnswers,
          l2Lat + l2HarmLat,
          tok * f.tokens,
          l2Tok + l2HarmTok,
          next,
          model,
        );
      }
    }
    // Ratings that arrive during this tick count for the answer's stratum and served tick.
    const arrived = pending.get(i);
    if (arrived) {
      pending.delete(i);
      for (let j = 0; j < arrived.length; j += 5) {
        const s = strata[arrived[j] ?? 0];
        if (!s) continue;
        const a = arrived[j + 1] === 1 ? s.candidate : s.baseline;
        const base = (arrived[j + 2] ?? 0) * CLUSTER_FIELD_COUNT;
        const servedTick = arrived[j + 3] ?? 0;
        const down = arrived[j + 4] === 1;
        a.totals.feedback += 1;
        a.clusters[base + CF.feedback] = (a.clusters[base + CF.feedback] ?? 0) + 1;
        a.ratingsByTick[servedTick] = (a.ratingsByTick[servedTick] ?? 0) + 1;
        if (down) {
          a.totals.thumbsDown += 1;
          a.clusters[base + CF.thumbsDown] = (a.clusters[base + CF.thumbsDown] ?? 0) + 1;
          a.downsByTick[servedTick] = (a.downsByTick[servedTick] ?? 0) + 1;
        }
      }
    }

    // The control plane's tick, with the window rules and the evaluator.
    const now = t0 + tick;
    const stepAge = now - stepStart;
    const input = {
      settings,
      plan,
      stepIndex: state.stepIndex,
      strata: strata.map((s) => view(s, i, windowTicksOf(state.stepIndex))),
      stepFromRevision: current.revision,
      stepAgeSeconds: stepAge,
    };
    const report: GuardrailReport =
      scenario.policy === 'legacy' ? judgeStepLegacy(input) : judgeRolloutStep(input, scenario.options);
    const verdict: AnalysisVerdict = report.verdict;
    scenario.onLook?.({ seconds: now, stepIndex: state.stepIndex, report });
    const before = state.stepIndex;
    // The plan's own progress deadlines act inside `transition`, as they do in the control plane.
    const secondsToDecide = projectedSecondsToDecide(report);
    const result = transition(
      state,
      { type: 'tick', verdict, ...(secondsToDecide === null ? {} : { secondsToDecide }) },
      at(now),
    );
    state = result.state;
    if (state.phase === 'RolledBack') {
      return result.cause === 'deadline-rollback'
        ? end('rolledBack', 'deadline', [], now, served, reachedFullAt, before)
        : end('rolledBack', 'guardrails', report.decidedBy, now, served, reachedFullAt, before);
    }
    if (state.phase === 'Healthy') return end('completed', null, [], now, served, reachedFullAt, before);
    if (state.stepIndex !== before) {
      stepStart = now;
      current = newStratum();
      if (state.stepIndex === fullIndex) reachedFullAt = now;
    }
  }
  return end('stuck', null, [], maxTicks * tick, served, reachedFullAt, state.stepIndex);
}

/**
 * Adds one request to an arm; returns whether the user got an answer (one they could rate).
 * `log2Lat` is the log2 of the request's latency factor (user x load x candidate), `tok` its token factor.
 */
function record(
  a: ArmCounters,
  g: number,
  pe: number,
  pr: number,
  pm: number,
  log2Lat: number,
  tok: number,
  log2Tok: number,
  next: () => number,
  model: Prepared,
): boolean {
  const t = model.scenario.traffic;
  const base = g * CLUSTER_FIELD_COUNT;
  const c = a.clusters;
  const s = a.totals;
  s.requests += 1;
  c[base + CF.requests] = (c[base + CF.requests] ?? 0) + 1;
  const j = (next() * TABLE) | 0;
  const answers = model.answers;
  let failed = next() < pe;
  let kind = 0; // 0 answer, 1 refusal, 2 empty
  let tokens = 0;
  let l2 = 0;
  if (!failed) {
    const v = next();
    if (v < pr) {
      kind = 1;
      tokens = t.tokens.refusal;
      l2 = answers.log2Refusal[j] ?? 0;
    } else if (v < pr + pm) {
      kind = 2;
      l2 = answers.log2Empty[j] ?? 0;
    } else {
      // The user's token factor lengthens the answer and its decoding time alike.
      tokens = (answers.tokens[j] ?? 0) * tok;
      l2 = (answers.log2Answer[j] ?? 0) + log2Tok;
    }
    l2 += log2Lat;
    if (next() < t.latency.slowShare) l2 += model.log2SlowFactor;
    failed = l2 > model.log2Timeout;
  }
  if (failed) {
    s.errors += 1;
    c[base + CF.errors] = (c[base + CF.errors] ?? 0) + 1;
    return false;
  }
  if (kind === 1) {
    s.refusals += 1;
    c[base + CF.refusals] = (c[base + CF.refusals] ?? 0) + 1;
  } else if (kind === 2) {
    s.silentFailures += 1;
    c[base + CF.silentFailures] = (c[base + CF.silentFailures] ?? 0) + 1;
  }
  // The histogram's bucket (16 per doubling) without latencyBucketIndex's exactness at the edges.
  const bucket = l2 > 0 ? (l2 * 16 + 1) | 0 : 0;
  const b = bucket < LAST_EDGE ? bucket : LAST_EDGE;
  s.latency.counts[b] = (s.latency.counts[b] ?? 0) + 1;
  s.outputTokens.n += 1;
  s.outputTokens.sum += tokens;
  s.outputTokens.sumSq += tokens * tokens;
  c[base + CF.tokensN] = (c[base + CF.tokensN] ?? 0) + 1;
  c[base + CF.tokensSum] = (c[base + CF.tokensSum] ?? 0) + tokens;
  return true;
}

const SIM_ACTOR = { name: 'simulation', automatic: true } as const;
const EPOCH = Date.UTC(2026, 0, 5);
const at = (seconds: number): Date => new Date(EPOCH + seconds * 1000);

/** The stratum as the evaluator sees it at the end of tick `i`: ratings of answers served within the window are immature. */
function view(s: Stratum, i: number, windowTicks: number): EvidenceStratum {
  const immature = (a: ArmCounters) => {
    if (windowTicks <= 0) return { feedback: 0, down: 0 };
    // Tick j is immature unless it ended at least a window before now ((i + 1) * tick).
    const from = max(0, floor(i + 1 - windowTicks));
    let feedback = 0;
    let down = 0;
    for (let j = from; j <= i; j++) {
      feedback += a.ratingsByTick[j] ?? 0;
      down += a.downsByTick[j] ?? 0;
    }
    return { feedback, down };
  };
  const b = immature(s.baseline);
  const c = immature(s.candidate);
  return {
    revision: s.revision,
    candidateRole: s.role,
    baseline: {
      totals: s.baseline.totals,
      clusters: s.baseline.clusters,
      immatureFeedback: b.feedback,
      immatureThumbsDown: b.down,
    },
    candidate: {
      totals: s.candidate.totals,
      clusters: s.candidate.clusters,
      immatureFeedback: c.feedback,
      immatureThumbsDown: c.down,
    },
  };
}

function end(
  outcome: RunOutcome,
  by: RunResult['rolledBackBy'],
  failed: readonly GuardrailMetric[],
  seconds: number,
  requests: number,
  reachedFullAt: number | null,
  finalStep: number,
): RunResult {
  return {
    outcome,
    rolledBackBy: by,
    failedGuardrails: by === 'guardrails' ? failed : [],
    finalStep,
    seconds,
    requests,
    reachedFullAt,
  };
}

// ---------------------------------------------------------------------------------------------
// Summaries

function summarize(
  scenario: RolloutScenario,
  model: Prepared,
  results: readonly RunResult[],
): ScenarioSummary {
  const n = results.length;
  const share = (pred: (r: RunResult) => boolean): Proportion => wilson(results.filter(pred).length, n);
  const rolled = results.filter((r) => r.outcome === 'rolledBack');
  const done = results.filter((r) => r.outcome === 'completed');
  return {
    scenario: scenario.name,
    policy: scenario.policy,
    harm: scenario.harm,
    runs: n,
    rolledBack: share((r) => r.outcome === 'rolledBack'),
    rolledBackByGuardrails: share((r) => r.rolledBackBy === 'guardrails'),
    rolledBackByDeadline: share((r) => r.rolledBackBy === 'deadline'),
    reachedFull: share((r) => r.reachedFullAt !== null),
    completed: share((r) => r.outcome === 'completed'),
    stuck: share((r) => r.outcome === 'stuck'),
    rolledBackInPlanTime: share((r) => r.outcome === 'rolledBack' && r.seconds <= model.planSeconds),
    medianSecondsToRollback: median(rolled.map((r) => r.seconds)),
    medianRequestsToRollback: median(rolled.map((r) => r.requests)),
    medianSecondsToComplete: median(done.map((r) => r.seconds)),
    planSeconds: model.planSeconds,
    trueRelativeChange: model.trueRelativeChange,
  };
}

/** Wilson score interval at 95%. */
export function wilson(count: number, n: number): Proportion {
  if (n <= 0) return { count, share: 0, lower: 0, upper: 1 };
  const z = 1.959964;
  const p = count / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return { count, share: p, lower: max(0, centre - half), upper: min(1, centre + half) };
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

// ---------------------------------------------------------------------------------------------
// Sampling helpers

function ceilDiv(a: number, b: number): number {
  return floor((a + b - 1) / b);
}

/** Walker's alias table for sampling users in proportion to their activity. */
function aliasTable(weights: Float64Array): { prob: Float64Array; alias: Int32Array } {
  const n = weights.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i] ?? 0;
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  const scaled = new Float64Array(n);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) {
    scaled[i] = ((weights[i] ?? 0) * n) / total;
    ((scaled[i] ?? 0) < 1 ? small : large).push(i);
  }
  while (small.length > 0 && large.length > 0) {
    const s = small.pop() as number;
    const l = large.pop() as number;
    prob[s] = scaled[s] ?? 0;
    alias[s] = l;
    scaled[l] = (scaled[l] ?? 0) + (scaled[s] ?? 0) - 1;
    ((scaled[l] ?? 0) < 1 ? small : large).push(l);
  }
  for (const i of large) prob[i] = 1;
  for (const i of small) prob[i] = 1;
  return { prob, alias };
}

/** Beta(mean k, (1 - mean) k) from two gamma draws. */
function betaSample(random: SeededRandom, mean: number, k: number): number {
  const x = gammaSample(random, mean * k);
  const y = gammaSample(random, (1 - mean) * k);
  return x + y > 0 ? x / (x + y) : mean;
}

/** Marsaglia-Tsang, with the shape < 1 boost. */
function gammaSample(random: SeededRandom, shape: number): number {
  if (shape < 1) return gammaSample(random, shape + 1) * pow(random.next() || 1e-300, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = random.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random.next();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (log(u) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
  }
}

function mixSeed(seed: number, run: number): number {
  return (imul(seed >>> 0, 0x9e3779b1) ^ imul(run + 1, 0x85ebca77)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// The suite: one row per scenario, run with each policy (docs/guardrail-statistics.md)

export interface ScenarioSpec {
  readonly id: string;
  readonly label: string;
  readonly traffic: TrafficModel;
  readonly harm: CandidateHarm | null;
  readonly tickSeconds: number;
}

const LOOK_SECONDS = 900;

const HARM_LABELS: Readonly<Record<GuardrailMetric, string>> = {
  refusalRate: 'refusals',
  thumbsDownRate: 'thumbs-down',
  errorRate: 'errors',
  silentFailureRate: 'empty answers',
  latencyP95: 'latency p95',
  outputLengthDrop: 'shorter answers',
  ttftP95: 'time to first token p95',
  costPerRequest: 'dearer answers (not simulated)',
};

/**
 * The simulated traffic is not streamed: ttftP95 has no data there (and is ignored, its default). It
 * is the latencyP95 comparison on another histogram, so the latency rows stand for it. Nor is it
 * priced: the cost guardrail is table-tested (cost-guardrail.spec.ts).
 */
const SIMULATED_HARMS = GUARDRAIL_METRICS.filter((m) => m !== 'ttftP95' && m !== 'costPerRequest');

/** Every scenario of the suite. A/A first, then one harm per guardrail at 1.5x and 2.5x its tolerance. */
export const GUARDRAIL_SCENARIOS: readonly ScenarioSpec[] = [
  {
    id: 'aa-realistic',
    label: 'A/A, realistic traffic (all of the below)',
    traffic: REALISTIC_TRAFFIC,
    harm: null,
    tickSeconds: LOOK_SECONDS,
  },
  {
    id: 'aa-independent',
    label: 'A/A, independent stationary requests',
    traffic: ISOLATED.independent,
    harm: null,
    tickSeconds: LOOK_SECONDS,
  },
  {
    id: 'aa-sticky',
    label: 'A/A, sticky users with their own propensities',
    traffic: ISOLATED.sticky,
    harm: null,
    tickSeconds: LOOK_SECONDS,
  },
  {
    id: 'aa-drift',
    label: 'A/A, daily cycles in volume and mix, slow drift',
    traffic: ISOLATED.drift,
    harm: null,
    tickSeconds: LOOK_SECONDS,
  },
  {
    id: 'aa-late-feedback',
    label: 'A/A, late feedback, thumbs-down faster than thumbs-up',
    traffic: ISOLATED.lateFeedback,
    harm: null,
    tickSeconds: LOOK_SECONDS,
  },
  {
    id: 'aa-heavy-users',
    label: 'A/A, a small, very active user base (stress)',
    traffic: ISOLATED.heavyUsers,
    harm: null,
    tickSeconds: LOOK_SECONDS,
  },
  {
    id: 'aa-high-traffic',
    label: 'A/A, realistic at 2M requests / 48 h, a look every 5 min',
    traffic: { ...REALISTIC_TRAFFIC, requestsPer48h: 2_000_000 },
    harm: null,
    tickSeconds: 300,
  },
  ...SIMULATED_HARMS.flatMap((metric) =>
    [1.5, 2.5].map((multiple): ScenarioSpec => ({
      id: `harm-${metric}-${multiple}`,
      label: `${HARM_LABELS[metric]} at ${multiple}x the tolerance`,
      traffic: REALISTIC_TRAFFIC,
      harm: { metric, multiple },
      tickSeconds: LOOK_SECONDS,
    })),
  ),
];

/**
 * A scenario as a policy runs it. 'rollout-wide': today's statistics and the default plan as it
 * ships, with its 5% holdback and its progress deadlines (twice each step's minimum, then roll back).
 * 'legacy': the statistics before (per-step windows, the past baseline at 100%) on the plan before
 * (PLAN_BEFORE_DEADLINES: no holdback, no deadlines), as it shipped.
 */
export function scenarioFor(spec: ScenarioSpec, policy: RolloutPolicy): RolloutScenario {
  return {
    name: spec.id,
    traffic: spec.traffic,
    harm: spec.harm,
    policy,
    tickSeconds: spec.tickSeconds,
  };
}
