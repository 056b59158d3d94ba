import { INFINITY, ceil, log2, max, min } from './fast-math';

/**
 * Per-arm counters the analyzer keeps for one rollout step and one version (baseline or candidate).
 * Plain, JSON-serialisable data that merges by addition, so partial aggregates (per partition, per
 * minute) can be combined in any order and the guardrail statistics always see cumulative totals.
 */

/** Sixteen buckets per doubling (each edge 4.4% above the previous), 1 ms to 2^20 ms (~17.5 min). */
const BUCKETS_PER_DOUBLING = 16;
const DOUBLINGS = 20;

/**
 * Upper edges of the latency histogram buckets in milliseconds. Bucket `i` counts latencies in
 * `(LATENCY_BUCKETS_MS[i-1], LATENCY_BUCKETS_MS[i]]` (bucket 0: `[0, 1]`); one extra overflow bucket at
 * the end counts everything slower than the last edge. Fixed, so histograms from different
 * processes and days stay mergeable; changing it means a new aggregate format.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = Array.from(
  { length: BUCKETS_PER_DOUBLING * DOUBLINGS + 1 },
  (_, k) => 2 ** (k / BUCKETS_PER_DOUBLING),
);

export interface LatencyHistogram {
  /** `LATENCY_BUCKETS_MS.length + 1` counts; the last one is the overflow bucket. */
  counts: number[];
}

export interface OutputTokenMoments {
  /** Responses whose completion token count is known. */
  n: number;
  sum: number;
  sumSq: number;
}

/** What the answers cost (USD per answered request with a known price; see README "Cost"). */
export interface CostMoments {
  /** Answered requests whose cost is known (the version has prices and the answer has token counts). */
  n: number;
  sum: number;
  sumSq: number;
}

export interface ArmStats {
  requests: number;
  /** Requests without a usable answer (connect/timeout/5xx/4xx/invalid response, candidate fallbacks). */
  errors: number;
  /** Out of successful responses (requests - errors). */
  refusals: number;
  /**
   * Empty output, invalid JSON when JSON was requested (or JSON off the requested schema), or a broken
   * tool call; out of successful responses.
   */
  silentFailures: number;
  /** Ratings received (up or down). */
  feedback: number;
  thumbsDown: number;
  /** Completion tokens of successful responses. */
  outputTokens: OutputTokenMoments;
  /** Latency of successful responses. */
  latency: LatencyHistogram;
  /** Time to first token of successful streamed responses (the ttftP95 guardrail). */
  ttft: LatencyHistogram;
  /** Cost of successful responses, in USD. */
  cost: CostMoments;
  /** Successful responses that are neither refusals nor silent failures: what a user could use. */
  usefulAnswers: number;
}

/** What the analyzer knows about one request once it finished (see the router's outcome event). */
export interface RequestOutcome {
  readonly error: boolean;
  readonly refusal: boolean;
  readonly empty: boolean;
  readonly invalidJson: boolean;
  /** invalidJson counts only when the request asked for JSON. */
  readonly jsonRequested: boolean;
  /**
   * Tool calls with arguments that are not a JSON object or that call a tool the request did not
   * offer: a tool-using answer that is broken, counted with the silent failures. Absent = none.
   */
  readonly toolCallErrors?: number;
  readonly latencyMs: number;
  /** Streamed responses: time to the first token (null or absent otherwise). */
  readonly ttftMs?: number | null;
  readonly stream?: boolean;
  /** Null when the upstream did not report usage. */
  readonly outputTokens: number | null;
  /** USD, from the version's prices and the answer's tokens; null or absent when unknown. */
  readonly costUsd?: number | null;
}

export function emptyArmStats(): ArmStats {
  return {
    requests: 0,
    errors: 0,
    refusals: 0,
    silentFailures: 0,
    feedback: 0,
    thumbsDown: 0,
    outputTokens: { n: 0, sum: 0, sumSq: 0 },
    latency: emptyLatencyHistogram(),
    ttft: emptyLatencyHistogram(),
    cost: { n: 0, sum: 0, sumSq: 0 },
    usefulAnswers: 0,
  };
}

export function emptyLatencyHistogram(): LatencyHistogram {
  return { counts: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) };
}

/** Successful responses: the denominator of the refusal and silent-failure rates. */
export function successfulResponses(arm: ArmStats): number {
  return arm.requests - arm.errors;
}

/**
 * Adds one finished request to `arm` (in place: this runs once per event in the analyzer's hot loop)
 * and returns it. Errors count toward the error rate only: their latency and output say nothing about
 * the model's answers.
 */
export function recordOutcome(arm: ArmStats, outcome: RequestOutcome): ArmStats {
  arm.requests += 1;
  if (outcome.error) {
    arm.errors += 1;
    return arm;
  }
  const silent =
    outcome.empty || (outcome.jsonRequested && outcome.invalidJson) || (outcome.toolCallErrors ?? 0) > 0;
  if (outcome.refusal) arm.refusals += 1;
  if (silent) arm.silentFailures += 1;
  if (!outcome.refusal && !silent) arm.usefulAnswers += 1;
  const cost = outcome.costUsd;
  if (typeof cost === 'number' && cost >= 0) {
    arm.cost.n += 1;
    arm.cost.sum += cost;
    arm.cost.sumSq += cost * cost;
  }
  recordLatency(arm.latency, outcome.latencyMs);
  if (outcome.stream === true && outcome.ttftMs !== null && outcome.ttftMs !== undefined)
    recordLatency(arm.ttft, outcome.ttftMs);
  if (outcome.outputTokens !== null) {
    arm.outputTokens.n += 1;
    arm.outputTokens.sum += outcome.outputTokens;
    arm.outputTokens.sumSq += outcome.outputTokens * outcome.outputTokens;
  }
  return arm;
}

/** Adds one user rating to `arm` (in place) and returns it. */
export function recordFeedback(arm: ArmStats, rating: 'up' | 'down'): ArmStats {
  arm.feedback += 1;
  if (rating === 'down') arm.thumbsDown += 1;
  return arm;
}

/** Index of the bucket that counts `ms`. */
export function latencyBucketIndex(ms: number): number {
  const last = LATENCY_BUCKETS_MS.length - 1;
  if (!(ms > 1)) return 0; // also NaN and negatives: clock skew must not throw in the hot path
  let i = min(last + 1, ceil(log2(ms) * BUCKETS_PER_DOUBLING));
  // log2 can be off by one ulp at an edge; settle on the exact bucket.
  while (i > 0 && ms <= latencyBucketEdge(i - 1)) i -= 1;
  while (i <= last && ms > latencyBucketEdge(i)) i += 1;
  return i;
}

export function recordLatency(histogram: LatencyHistogram, ms: number): LatencyHistogram {
  const i = latencyBucketIndex(ms);
  histogram.counts[i] = (histogram.counts[i] ?? 0) + 1;
  return histogram;
}

export function histogramCount(histogram: LatencyHistogram): number {
  let n = 0;
  for (const c of histogram.counts) n += c;
  return n;
}

/**
 * The q-quantile (0-1) of a histogram, interpolated geometrically inside its bucket (the buckets are
 * log-spaced); null when empty. A quantile in the overflow bucket is reported as the last edge.
 */
export function quantileFromHistogram(histogram: LatencyHistogram, q: number): number | null {
  const n = histogramCount(histogram);
  if (n === 0) return null;
  const rank = min(max(q, 0), 1) * n;
  let below = 0;
  for (let i = 0; i < histogram.counts.length; i++) {
    const c = histogram.counts[i] ?? 0;
    if (c > 0 && below + c >= rank) {
      if (i >= LATENCY_BUCKETS_MS.length) return latencyBucketEdge(LATENCY_BUCKETS_MS.length - 1);
      const frac = (rank - below) / c;
      const hi = latencyBucketEdge(i);
      if (i === 0) return frac * hi;
      const lo = latencyBucketEdge(i - 1);
      return lo * (hi / lo) ** frac;
    }
    below += c;
  }
  return latencyBucketEdge(LATENCY_BUCKETS_MS.length - 1);
}

/** Sum of two aggregates (for example two partitions, or two minutes of the same step). */
export function mergeArmStats(a: ArmStats, b: ArmStats): ArmStats {
  if (a.latency.counts.length !== b.latency.counts.length) {
    throw new RangeError(
      `latency histograms differ in layout (${a.latency.counts.length} vs ${b.latency.counts.length} buckets)`,
    );
  }
  return {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    refusals: a.refusals + b.refusals,
    silentFailures: a.silentFailures + b.silentFailures,
    feedback: a.feedback + b.feedback,
    thumbsDown: a.thumbsDown + b.thumbsDown,
    outputTokens: {
      n: a.outputTokens.n + b.outputTokens.n,
      sum: a.outputTokens.sum + b.outputTokens.sum,
      sumSq: a.outputTokens.sumSq + b.outputTokens.sumSq,
    },
    latency: addHistograms(a.latency, b.latency),
    ttft: addHistograms(a.ttft, b.ttft),
    cost: { n: a.cost.n + b.cost.n, sum: a.cost.sum + b.cost.sum, sumSq: a.cost.sumSq + b.cost.sumSq },
    usefulAnswers: a.usefulAnswers + b.usefulAnswers,
  };
}

function addHistograms(a: LatencyHistogram, b: LatencyHistogram): LatencyHistogram {
  return { counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)) };
}

/** Upper edge of bucket `i` in ms; +Infinity for the overflow bucket. */
export function latencyBucketEdge(i: number): number {
  return LATENCY_BUCKETS_MS[i] ?? INFINITY;
}
