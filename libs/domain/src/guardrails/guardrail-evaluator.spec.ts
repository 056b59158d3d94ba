import {
  emptyArmStats,
  emptyLatencyHistogram,
  latencyBucketIndex,
  type ArmStats,
  type LatencyHistogram,
} from './arm-stats';
import { evaluateGuardrails, type GuardrailEvaluationOptions } from './guardrail-evaluator';
import { describeReport, type GuardrailReport, type GuardrailVerdict } from './guardrail-report';
import {
  DEFAULT_GUARDRAILS,
  GUARDRAIL_METRICS,
  resolveGuardrails,
  type GuardrailMetric,
  type GuardrailSetting,
} from './guardrail-settings';

/** An arm described by its rates; counts are rounded, latencies spread evenly over [fromMs, toMs]. */
interface ArmSpec {
  readonly requests: number;
  readonly errorRate?: number;
  /** Exact error count, for the zero-baseline cases. */
  readonly errors?: number;
  readonly refusalRate?: number;
  readonly silentRate?: number;
  /** Ratings received; default 10% of answers. */
  readonly ratings?: number;
  readonly thumbsDownRate?: number;
  readonly tokens?: { readonly mean: number; readonly sd: number };
  readonly latency?: { readonly fromMs: number; readonly toMs: number };
  /** Time to first token of the streamed answers (half the answers are streamed). */
  readonly ttft?: { readonly fromMs: number; readonly toMs: number };
}

/** The guardrails a rollout gets without asking (the cost guardrail is opt-in). */
const ON_BY_DEFAULT = GUARDRAIL_METRICS.filter((m) => DEFAULT_GUARDRAILS[m].enabled);

const HEALTHY = {
  errorRate: 0.01,
  refusalRate: 0.04,
  silentRate: 0.02,
  thumbsDownRate: 0.1,
  tokens: { mean: 240, sd: 150 },
  latency: { fromMs: 300, toMs: 3000 },
  ttft: { fromMs: 100, toMs: 600 },
} as const;

function arm(spec: ArmSpec): ArmStats {
  const s = { ...HEALTHY, ...spec };
  const errors = s.errors ?? Math.round(s.requests * s.errorRate);
  const answers = s.requests - errors;
  const feedback = s.ratings ?? Math.round(answers * 0.1);
  const a = emptyArmStats();
  a.requests = s.requests;
  a.errors = errors;
  a.refusals = Math.round(answers * s.refusalRate);
  a.silentFailures = Math.round(answers * s.silentRate);
  a.feedback = feedback;
  a.thumbsDown = Math.round(feedback * s.thumbsDownRate);
  a.outputTokens = {
    n: answers,
    sum: answers * s.tokens.mean,
    sumSq: (answers - 1) * s.tokens.sd ** 2 + answers * s.tokens.mean ** 2,
  };
  a.latency = spreadLatencies(answers, s.latency.fromMs, s.latency.toMs);
  a.ttft = spreadLatencies(Math.round(answers / 2), s.ttft.fromMs, s.ttft.toMs);
  return a;
}

/** n latencies evenly spread: 2000 distinct values, each recorded about n/2000 times. */
function spreadLatencies(n: number, fromMs: number, toMs: number): LatencyHistogram {
  const h = emptyLatencyHistogram();
  const points = 2000;
  for (let i = 0; i < points; i++) {
    const times = Math.floor(n / points) + (i < n % points ? 1 : 0);
    const bucket = latencyBucketIndex(fromMs + ((toMs - fromMs) * (i + 0.5)) / points);
    h.counts[bucket] = (h.counts[bucket] ?? 0) + times;
  }
  return h;
}

type Overrides = Partial<Record<GuardrailMetric, Partial<GuardrailSetting>>>;

function evaluate(
  baseline: ArmSpec,
  candidate: ArmSpec,
  overrides: Overrides = {},
  options?: GuardrailEvaluationOptions,
): GuardrailReport {
  return evaluateGuardrails(resolveGuardrails(overrides), arm(baseline), arm(candidate), options);
}

function resultFor(report: GuardrailReport, metric: GuardrailMetric) {
  const result = report.results.find((r) => r.metric === metric);
  if (!result) throw new Error(`no result for ${metric}`);
  return result;
}

const BIG = 1_000_000;

describe(evaluateGuardrails.name, () => {
  // prettier-ignore
  it.each<[string, ArmSpec, ArmSpec, Overrides, GuardrailMetric, GuardrailVerdict, RegExp]>([
    ['fails the refusal guardrail when refusals more than double',
      { requests: 5000 }, { requests: 5000, refusalRate: 0.098 }, {}, 'refusalRate', 'Failed',
      /^refusal rate 9\.8% vs 4% baseline, \+145% \(interval \+\d+%\.\.\+\d+%\), limit \+20%: exceeds the limit$/],
    ['keeps a refusal increase that is significant but within the tolerance, proven by the interval',
      { requests: BIG }, { requests: BIG, refusalRate: 0.044 }, {}, 'refusalRate', 'Successful',
      /^refusal rate 4\.4% vs 4% baseline, \+10% \(interval \+\d+%\.\.\+1\d%\), limit \+20%: within the limit, proven by the interval$/],
    ['passes a refusal rate within the tolerance on its point estimate before the interval proves it',
      { requests: 5000 }, { requests: 5000, refusalRate: 0.044 }, {}, 'refusalRate', 'Successful',
      /^refusal rate 4\.4% vs 4% baseline, \+10% \(interval -\d+%\.\.\+\d+%\), limit \+20%: within the limit \(point estimate; not yet proven\)$/],
    ['holds a refusal increase just past the tolerance as inconclusive',
      { requests: 5000 }, { requests: 5000, refusalRate: 0.048 }, {}, 'refusalRate', 'Inconclusive',
      /\+20% \(interval -\d+%\.\.\+\d+%\), limit \+20%: beyond the limit on the point estimate, not yet conclusive$/],
    ['holds a refusal increase clearly past the tolerance until it is confidently so',
      { requests: 5000 }, { requests: 5000, refusalRate: 0.056 }, {}, 'refusalRate', 'Inconclusive',
      /^refusal rate 5\.6% vs 4% baseline, \+40% \(interval [-+±]\d+%\.\.\+\d+%\), limit \+20%: beyond the limit on the point estimate, not yet conclusive$/],
    ['holds below minSamples even when the candidate looks much worse',
      { requests: 500 }, { requests: 500, refusalRate: 0.2 }, {}, 'refusalRate', 'Inconclusive',
      /^refusal rate 20% vs 4% baseline: 495 vs 495 responses, needs 700 per arm$/],
    ['does not turn one error against a clean baseline into +infinity',
      { requests: 5000, errors: 0 }, { requests: 5000, errors: 1 }, {}, 'errorRate', 'Successful',
      /^error rate 0\.02% vs 0% baseline, \+4% \(interval -\d+%\.\.\+\d+%\), limit \+10%: within the limit and below the 5% ceiling \(point estimate; not yet proven\)$/],
    ['fails the error guardrail when a clean baseline meets a candidate with 2% errors',
      { requests: 5000, errors: 0 }, { requests: 5000, errors: 100 }, {}, 'errorRate', 'Failed',
      /^error rate 2% vs 0% baseline, \+400% \(interval \+\d+%\.\.\+\d+%\), limit \+10%: exceeds the limit$/],
    ['fails on the absolute ceiling even within the relative tolerance',
      { requests: 20_000, errorRate: 0.075 }, { requests: 20_000, errorRate: 0.08 }, {}, 'errorRate', 'Failed',
      /^error rate 8% \(interval 7\.\d+%\.\.8\.\d+%\) is above the 5% ceiling$/],
    ['fails on the ceiling before minSamples when errors are overwhelming',
      { requests: 50, errors: 1 }, { requests: 50, errors: 30 }, {}, 'errorRate', 'Failed',
      /^error rate 60% \(interval \d+(\.\d+)?%\.\.\d+(\.\d+)?%\) is above the 5% ceiling \(50 vs 50 requests, needs 2,000 per arm\)$/],
    ['fails the thumbs-down guardrail when users dislike the candidate twice as often',
      { requests: 20_000 }, { requests: 20_000, thumbsDownRate: 0.2 }, {}, 'thumbsDownRate', 'Failed',
      /^thumbs-down rate 20% vs 10% baseline, \+100% .*: exceeds the limit$/],
    ['fails the silent-failure guardrail when empty answers triple',
      { requests: 5000 }, { requests: 5000, silentRate: 0.06 }, {}, 'silentFailureRate', 'Failed',
      /^silent-failure rate 6% vs 2% baseline, \+200% .*: exceeds the limit$/],
    ['fails the latency guardrail when the p95 doubles',
      { requests: 5000 }, { requests: 5000, latency: { fromMs: 600, toMs: 6000 } }, {}, 'latencyP95', 'Failed',
      /^latency p95 5,\d{3} ms vs 2,\d{3} ms baseline, \+\d+% \(interval \+\d+%\.\.\+\d+%\), limit \+50%: exceeds the limit$/],
    ['passes the latency guardrail when the candidate is as fast',
      { requests: 50_000 }, { requests: 50_000 }, {}, 'latencyP95', 'Successful',
      /^latency p95 2,\d{3} ms vs 2,\d{3} ms baseline, ±0% .*limit \+50%: within the limit, proven by the interval$/],
    ['fails on a latency ceiling the p95 is confidently above',
      { requests: 5000 }, { requests: 5000 }, { latencyP95: { absoluteCeiling: 2000 } }, 'latencyP95', 'Failed',
      /^latency p95 2,\d{3} ms \(interval 2,\d{3} ms\.\.\d,\d{3} ms\) is above the 2,000 ms ceiling$/],
    ['fails the output-length guardrail when answers get much shorter',
      { requests: 5000 }, { requests: 5000, tokens: { mean: 150, sd: 100 } }, {}, 'outputLengthDrop', 'Failed',
      /^output length 150 tokens vs 240 tokens baseline, -37% \(interval -\d+%\.\.-\d+%\), limit -30%: exceeds the limit$/],
    ['does not fail the output-length guardrail when answers get longer',
      { requests: 5000 }, { requests: 5000, tokens: { mean: 400, sd: 200 } }, {}, 'outputLengthDrop', 'Successful',
      /^output length 400 tokens vs 240 tokens baseline, \+67% .*limit -30%: within the limit, proven by the interval$/],
    ['passes a candidate below the error ceiling on its point estimate before it is confidently below',
      { requests: 2000 }, { requests: 2000, errorRate: 0.04 }, { errorRate: { maxRelativeIncrease: 20 } }, 'errorRate', 'Successful',
      /^error rate 4% vs 1% baseline, \+300% .*limit \+2000%: within the limit and below the 5% ceiling \(point estimate; not yet proven\)$/],
    ['holds a candidate just above the error ceiling until it is confidently above',
      { requests: 2000, errorRate: 0.05 }, { requests: 2000, errorRate: 0.055 }, { errorRate: { maxRelativeIncrease: 20 } }, 'errorRate', 'Inconclusive',
      /^error rate 5\.5% vs 5% baseline, \+10% .*limit \+2000%: above the 5% ceiling on the point estimate, not yet conclusive$/],
    ['names both the limit and the ceiling when the point estimate is past both',
      { requests: 2000, errorRate: 0.045 }, { requests: 2000, errorRate: 0.055 }, {}, 'errorRate', 'Inconclusive',
      /^error rate 5\.5% vs 4\.5% baseline, \+22% .*limit \+10%: beyond the limit and above the 5% ceiling on the point estimate, not yet conclusive$/],
  ])('%s', (_name, baseline, candidate, overrides, metric, verdict, reason) => {
    const result = resultFor(evaluate(baseline, candidate, overrides), metric);
    const matcher: unknown = expect.stringMatching(reason);
    expect({ verdict: result.verdict, reason: result.reason }).toEqual({ verdict, reason: matcher });
    expect(result.proven).toBe(verdict === 'Successful' && / proven by the interval$/.test(result.reason));
  });

  it('reports values, relative change, an interval around it and samples per arm', () => {
    const result = resultFor(
      evaluate({ requests: 5000 }, { requests: 5000, refusalRate: 0.098 }),
      'refusalRate',
    );
    expect(result).toMatchObject({
      metric: 'refusalRate',
      baseline: 198 / 4950,
      candidate: 485 / 4950,
      limit: 0.2,
      ceiling: null,
      samples: { baseline: 4950, candidate: 4950 },
      minSamples: 700,
      proven: false,
    });
    expect(result.relativeChange).toBeCloseTo(485 / 198 - 1, 10);
    expect(result.interval?.lower).toBeGreaterThan(0.2);
    expect(result.interval?.lower).toBeLessThan(result.relativeChange ?? 0);
    expect(result.interval?.upper).toBeGreaterThan(result.relativeChange ?? 0);
    expect(result.candidateInterval?.lower).toBeLessThan(result.candidate ?? 0);
  });

  it('reports an unbounded upper limit when the baseline is not yet distinguishable from zero', () => {
    // No floor: the ratio against a baseline of 1 in 300 has no finite upper bound yet.
    const result = resultFor(
      evaluate(
        { requests: 300, errors: 1 },
        { requests: 300, errors: 3 },
        { errorRate: { minSamples: 200 } },
        { rateFloor: 0 },
      ),
      'errorRate',
    );
    expect(result.interval?.upper).toBeNull();
    expect(result.reason).toMatch(/\.\.unbounded\)/);
  });

  describe('overall verdict', () => {
    it('is Successful when a large candidate matches the baseline on every guardrail', () => {
      const report = evaluate({ requests: BIG }, { requests: BIG });
      expect(report.results.map((r) => [r.metric, r.verdict])).toEqual(
        ON_BY_DEFAULT.map((m) => [m, 'Successful']),
      );
      expect(report).toMatchObject({ verdict: 'Successful', decidedBy: ON_BY_DEFAULT });
      expect(report.results.every((r) => r.proven)).toBe(true);
    });

    it('is Successful on point estimates while an identical candidate has too little traffic to prove it', () => {
      const report = evaluate({ requests: 5000 }, { requests: 5000 });
      expect(report).toMatchObject({ verdict: 'Successful', decidedBy: ON_BY_DEFAULT });
      // The intervals cannot yet exclude +10% errors or +20% refusals; the p95 and the output length
      // need far less traffic.
      expect(report.results.map((r) => [r.metric, r.proven])).toEqual([
        ['refusalRate', false],
        ['thumbsDownRate', false],
        ['errorRate', false],
        ['silentFailureRate', false],
        ['latencyP95', true],
        ['outputLengthDrop', true],
        ['ttftP95', true],
      ]);
    });

    it('is Inconclusive, not Failed, while an arm has fewer than minSamples observations', () => {
      const report = evaluate({ requests: 1000 }, { requests: 1000 });
      expect(report).toMatchObject({
        verdict: 'Inconclusive',
        decidedBy: ['thumbsDownRate', 'errorRate', 'silentFailureRate'],
      });
      expect(report.results.some((r) => r.verdict === 'Failed')).toBe(false);
    });

    it('is Inconclusive while one point estimate is past its limit but not confidently', () => {
      const report = evaluate({ requests: 5000 }, { requests: 5000, silentRate: 0.023 });
      expect(report).toMatchObject({ verdict: 'Inconclusive', decidedBy: ['silentFailureRate'] });
    });

    it('is Failed when one guardrail fails while the others pass', () => {
      const report = evaluate({ requests: BIG }, { requests: BIG, silentRate: 0.03 });
      expect(report).toMatchObject({ verdict: 'Failed', decidedBy: ['silentFailureRate'] });
      expect(report.results.filter((r) => r.verdict === 'Successful')).toHaveLength(6);
    });

    it('leaves disabled guardrails out of the results and the verdict', () => {
      const report = evaluate(
        { requests: BIG },
        { requests: BIG, refusalRate: 0.5 },
        { refusalRate: { enabled: false } },
      );
      expect(report.disabled).toEqual(['refusalRate', 'costPerRequest']);
      expect(report.results.map((r) => r.metric)).not.toContain('refusalRate');
      expect(report.verdict).toBe('Successful');
    });

    it('splits alpha evenly across the enabled guardrails', () => {
      const off = { enabled: false };
      expect(evaluate({ requests: 10 }, { requests: 10 }).alphaPerGuardrail).toBeCloseTo(0.05 / 7, 12);
      expect(
        evaluate(
          { requests: 10 },
          { requests: 10 },
          { latencyP95: off, outputLengthDrop: off, ttftP95: off },
          { alpha: 0.1 },
        ),
      ).toMatchObject({ alpha: 0.1, alphaPerGuardrail: 0.1 / 4 });
    });

    it('is Successful with no guardrail enabled', () => {
      const off = Object.fromEntries(GUARDRAIL_METRICS.map((m) => [m, { enabled: false }])) as Overrides;
      expect(evaluate({ requests: 0 }, { requests: 0 }, off)).toMatchObject({
        verdict: 'Successful',
        results: [],
      });
    });

    it('takes an option passed as undefined as its default', () => {
      expect(evaluate({ requests: 10 }, { requests: 10 }, {}, { alpha: undefined }).alpha).toBe(0.05);
    });

    it('rejects an alpha outside (0, 1)', () => {
      expect(() => evaluate({ requests: 10 }, { requests: 10 }, {}, { alpha: 0 })).toThrow(
        /alpha must be in \(0, 1\)/,
      );
      expect(() => evaluate({ requests: 10 }, { requests: 10 }, {}, { alpha: 1.5 })).toThrow(RangeError);
    });
  });

  describe('missing data', () => {
    // Everything else is conclusively fine; the candidate has served traffic but received no ratings.
    const unrated: ArmSpec = { requests: BIG, ratings: 0 };

    // prettier-ignore
    it.each<[GuardrailSetting['onMissingData'], GuardrailVerdict | 'Successful', readonly GuardrailMetric[]]>([
      ['hold', 'Inconclusive', ['thumbsDownRate']],
      ['rollback', 'Failed', ['thumbsDownRate']],
      ['ignore', 'Successful', ON_BY_DEFAULT],
    ])('on %s, makes the rollout %s', (policy, verdict, decidedBy) => {
      const report = evaluate({ requests: BIG }, unrated, { thumbsDownRate: { onMissingData: policy } });
      expect(resultFor(report, 'thumbsDownRate')).toMatchObject({
        verdict: 'NoData',
        reason: `thumbs-down rate: no ratings from the candidate after 1,000,000 requests (on missing data: ${policy})`,
      });
      expect(report).toMatchObject({ verdict, decidedBy });
    });

    it('does not call data missing before the arm has served minSamples requests', () => {
      const report = evaluate(
        { requests: 30 },
        { requests: 30, ratings: 0 },
        { thumbsDownRate: { onMissingData: 'rollback' } },
      );
      expect(resultFor(report, 'thumbsDownRate').verdict).toBe('Inconclusive');
      expect(report.verdict).toBe('Inconclusive');
    });

    it('reports output length as missing when the upstream never reports token usage', () => {
      const candidate = arm({ requests: 1000 });
      candidate.outputTokens = { n: 0, sum: 0, sumSq: 0 };
      const report = evaluateGuardrails(resolveGuardrails({}), arm({ requests: 1000 }), candidate);
      expect(resultFor(report, 'outputLengthDrop')).toMatchObject({ verdict: 'NoData', candidate: null });
    });
  });
});

describe(describeReport.name, () => {
  it('leads a failure with the failing guardrail and counts the rest', () => {
    const text = describeReport(evaluate({ requests: 5000 }, { requests: 5000, refusalRate: 0.098 }));
    expect(text).toMatch(
      /^Failed: refusal rate 9\.8% vs 4% baseline, \+145% \(interval \+\d+%\.\.\+\d+%\), limit \+20%: exceeds the limit \(also: 3 within limits on point estimates, 3 proven within limits\)$/,
    );
  });

  it('lists what is still undecided when inconclusive', () => {
    const text = describeReport(evaluate({ requests: 100 }, { requests: 100 }));
    expect(text).toMatch(/^Inconclusive: refusal rate .*needs 700 per arm; .*needs 200 per arm; .*$/);
  });

  it('lists every guardrail when successful', () => {
    const text = describeReport(evaluate({ requests: BIG }, { requests: BIG }));
    expect(text.startsWith('Successful (all proven): refusal rate')).toBe(true);
    expect(text.match(/within the limit/g)).toHaveLength(7);
    expect(text.match(/proven by the interval/g)).toHaveLength(7);
  });

  it('says how many guardrails are proven when successful on point estimates', () => {
    const text = describeReport(evaluate({ requests: 5000 }, { requests: 5000 }));
    expect(text.startsWith('Successful (3 of 7 proven): refusal rate')).toBe(true);
    expect(text.match(/\(point estimate; not yet proven\)/g)).toHaveLength(4);
  });

  it('says when nothing was checked', () => {
    const off = Object.fromEntries(GUARDRAIL_METRICS.map((m) => [m, { enabled: false }])) as Overrides;
    expect(describeReport(evaluate({ requests: 0 }, { requests: 0 }, off))).toBe(
      'Successful: no guardrail enabled',
    );
  });
});
