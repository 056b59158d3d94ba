import {
  emptyArmStats,
  emptyLatencyHistogram,
  histogramCount,
  LATENCY_BUCKETS_MS,
  latencyBucketIndex,
  mergeArmStats,
  quantileFromHistogram,
  recordFeedback,
  recordLatency,
  recordOutcome,
  type ArmStats,
  type RequestOutcome,
} from './arm-stats';

const OK: RequestOutcome = {
  error: false,
  refusal: false,
  empty: false,
  invalidJson: false,
  jsonRequested: false,
  latencyMs: 800,
  outputTokens: 120,
};

describe('LATENCY_BUCKETS_MS', () => {
  it('spans 1 ms to 2^20 ms in sixteen buckets per doubling', () => {
    expect(LATENCY_BUCKETS_MS[0]).toBe(1);
    expect(LATENCY_BUCKETS_MS.at(-1)).toBe(2 ** 20);
    expect(LATENCY_BUCKETS_MS[16]).toBe(2);
    for (let i = 1; i < LATENCY_BUCKETS_MS.length; i++) {
      expect((LATENCY_BUCKETS_MS[i] ?? 0) / (LATENCY_BUCKETS_MS[i - 1] ?? 1)).toBeCloseTo(2 ** (1 / 16), 12);
    }
  });
});

describe(latencyBucketIndex.name, () => {
  const overflow = LATENCY_BUCKETS_MS.length;
  // prettier-ignore
  it.each<[string, number, number]>([
    ['puts zero in the first bucket', 0, 0],
    ['puts exactly 1 ms in the first bucket', 1, 0],
    ['puts just over 1 ms in the second bucket', 1.0001, 1],
    ['puts an exact edge in the bucket it closes', 2, 16],
    ['puts just over an edge in the next bucket', 2.000001, 17],
    ['puts 1 s where 2^(k/16) first reaches it', 1000, Math.ceil(16 * Math.log2(1000))],
    ['puts the last edge in the last regular bucket', 2 ** 20, overflow - 1],
    ['puts anything slower in the overflow bucket', 5e9, overflow],
    ['treats negative clock skew as zero', -3, 0],
    ['treats NaN as zero rather than throwing', Number.NaN, 0],
  ])('%s', (_name, ms, expected) => {
    expect(latencyBucketIndex(ms)).toBe(expected);
  });

  it('agrees with the bucket edges for every edge and its neighbours', () => {
    LATENCY_BUCKETS_MS.forEach((edge, i) => {
      expect(latencyBucketIndex(edge)).toBe(i);
      expect(latencyBucketIndex(edge * (1 + 1e-12))).toBe(i + 1);
    });
  });
});

describe(recordOutcome.name, () => {
  type Counters = Pick<ArmStats, 'requests' | 'errors' | 'refusals' | 'silentFailures'> & {
    latencies: number;
    tokens: number;
  };
  const counters = (a: ArmStats): Counters => ({
    requests: a.requests,
    errors: a.errors,
    refusals: a.refusals,
    silentFailures: a.silentFailures,
    latencies: histogramCount(a.latency),
    tokens: a.outputTokens.n,
  });
  // prettier-ignore
  it.each<[string, Partial<RequestOutcome>, Counters]>([
    ['counts a good answer with its latency and tokens', {}, { requests: 1, errors: 0, refusals: 0, silentFailures: 0, latencies: 1, tokens: 1 }],
    ['counts an error toward the error rate only', { error: true, refusal: true, empty: true }, { requests: 1, errors: 1, refusals: 0, silentFailures: 0, latencies: 0, tokens: 0 }],
    ['counts a refusal', { refusal: true }, { requests: 1, errors: 0, refusals: 1, silentFailures: 0, latencies: 1, tokens: 1 }],
    ['counts an empty answer as a silent failure', { empty: true }, { requests: 1, errors: 0, refusals: 0, silentFailures: 1, latencies: 1, tokens: 1 }],
    ['counts invalid JSON as a silent failure when JSON was requested', { invalidJson: true, jsonRequested: true }, { requests: 1, errors: 0, refusals: 0, silentFailures: 1, latencies: 1, tokens: 1 }],
    ['ignores invalid JSON when JSON was not requested', { invalidJson: true }, { requests: 1, errors: 0, refusals: 0, silentFailures: 0, latencies: 1, tokens: 1 }],
    ['counts an empty answer with invalid JSON once', { empty: true, invalidJson: true, jsonRequested: true }, { requests: 1, errors: 0, refusals: 0, silentFailures: 1, latencies: 1, tokens: 1 }],
    ['counts a broken tool call as a silent failure, JSON asked for or not', { toolCallErrors: 2 }, { requests: 1, errors: 0, refusals: 0, silentFailures: 1, latencies: 1, tokens: 1 }],
    ['counts a good tool call as an answer', { toolCallErrors: 0 }, { requests: 1, errors: 0, refusals: 0, silentFailures: 0, latencies: 1, tokens: 1 }],
    ['leaves output tokens alone when the upstream reported no usage', { outputTokens: null }, { requests: 1, errors: 0, refusals: 0, silentFailures: 0, latencies: 1, tokens: 0 }],
  ])('%s', (_name, outcome, expected) => {
    expect(counters(recordOutcome(emptyArmStats(), { ...OK, ...outcome }))).toEqual(expected);
  });

  it('keeps the sum and sum of squares of output tokens', () => {
    const arm = emptyArmStats();
    for (const tokens of [10, 20, 60]) recordOutcome(arm, { ...OK, outputTokens: tokens });
    expect(arm.outputTokens).toEqual({ n: 3, sum: 90, sumSq: 100 + 400 + 3600 });
  });
});

describe(recordFeedback.name, () => {
  it('counts every rating and the thumbs-down among them', () => {
    const arm = emptyArmStats();
    for (const rating of ['up', 'down', 'up', 'down', 'down'] as const) recordFeedback(arm, rating);
    expect([arm.feedback, arm.thumbsDown]).toEqual([5, 3]);
  });
});

describe(quantileFromHistogram.name, () => {
  const spread = (from: number, to: number, n: number) => {
    const h = emptyLatencyHistogram();
    for (let i = 0; i < n; i++) recordLatency(h, from + ((to - from) * (i + 0.5)) / n);
    return h;
  };

  it('has no quantile without observations', () => {
    expect(quantileFromHistogram(emptyLatencyHistogram(), 0.95)).toBeNull();
  });

  // prettier-ignore
  it.each<[string, number, number, number, number]>([
    ['finds the median of evenly spread latencies', 100, 1100, 0.5, 600],
    ['finds the p95 of evenly spread latencies', 100, 1100, 0.95, 1050],
    ['finds the p95 of sub-millisecond latencies', 0, 1, 0.95, 0.95],
    ['finds the p95 of slow generations', 20_000, 60_000, 0.95, 58_000],
  ])('%s', (_name, from, to, q, expected) => {
    // within a bucket width (4.4%)
    expect(quantileFromHistogram(spread(from, to, 10_000), q)).toBeGreaterThan(expected / 1.045);
    expect(quantileFromHistogram(spread(from, to, 10_000), q)).toBeLessThan(expected * 1.045);
  });

  it('reports a quantile in the overflow bucket as the last edge', () => {
    expect(quantileFromHistogram(spread(2e6, 3e6, 100), 0.95)).toBe(2 ** 20);
  });
});

describe(mergeArmStats.name, () => {
  const outcomes: RequestOutcome[] = Array.from({ length: 40 }, (_, i) => ({
    ...OK,
    error: i % 13 === 0,
    refusal: i % 7 === 0,
    empty: i % 11 === 0,
    latencyMs: 50 * (i + 1),
    outputTokens: i % 5 === 0 ? null : 10 * i,
  }));

  it('gives the same aggregate as recording everything into one arm', () => {
    const all = emptyArmStats();
    const first = emptyArmStats();
    const second = emptyArmStats();
    outcomes.forEach((o, i) => {
      recordOutcome(all, o);
      recordOutcome(i < 15 ? first : second, o);
      if (i % 3 === 0) {
        recordFeedback(all, i % 2 === 0 ? 'down' : 'up');
        recordFeedback(i < 15 ? first : second, i % 2 === 0 ? 'down' : 'up');
      }
    });
    expect(mergeArmStats(first, second)).toEqual(all);
    expect(mergeArmStats(second, first)).toEqual(all);
  });

  it('leaves its inputs untouched', () => {
    const a = recordOutcome(emptyArmStats(), OK);
    const copy = structuredClone(a);
    mergeArmStats(a, a);
    expect(a).toEqual(copy);
  });

  it('refuses histograms of another layout', () => {
    const other = { ...emptyArmStats(), latency: { counts: [0, 1, 2] } };
    expect(() => mergeArmStats(emptyArmStats(), other)).toThrow(/latency histograms differ in layout/);
  });
});
