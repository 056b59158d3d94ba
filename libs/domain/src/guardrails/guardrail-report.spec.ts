import { projectedSecondsToDecide, type GuardrailReport, type GuardrailResult } from './guardrail-report';
import type { GuardrailMetric } from './guardrail-settings';

const HOUR = 3600;

/** An undecided harm-bound guardrail, within its +20% limit, 10 h from showing its bound. */
function undecided(over: Partial<GuardrailResult> = {}): GuardrailResult {
  return {
    metric: 'refusalRate',
    verdict: 'Inconclusive',
    proven: false,
    baseline: 0.05,
    candidate: 0.052,
    relativeChange: 0.04,
    interval: { lower: -0.1, upper: 0.2 },
    candidateInterval: { lower: 0.045, upper: 0.06 },
    limit: 0.2,
    ceiling: null,
    samples: { baseline: 20_000, candidate: 20_000 },
    minSamples: 700,
    reason: '',
    requirement: 'harmBound',
    harm: { limit: 0.3, bound: 0.33, shown: false, alpha: 0.05, needed: { factor: 1.2, seconds: 10 * HOUR } },
    ...over,
  };
}

function report(results: GuardrailResult[], over: Partial<GuardrailReport> = {}): GuardrailReport {
  return {
    verdict: 'Inconclusive',
    results,
    decidedBy: results.filter((r) => r.verdict !== 'Successful').map((r) => r.metric),
    disabled: [],
    alpha: 0.05,
    alphaPerGuardrail: 0.01,
    ...over,
  };
}

const passed = (metric: GuardrailMetric): GuardrailResult =>
  undecided({
    metric,
    verdict: 'Successful',
    harm: { limit: 0.3, bound: 0.1, shown: true, alpha: 0.05, needed: null },
  });

describe(projectedSecondsToDecide.name, () => {
  it.each<[string, GuardrailReport, number | null]>([
    [
      'one undecided guardrail on track: its projection',
      report([undecided(), passed('errorRate')]),
      10 * HOUR,
    ],
    [
      'several on track: the longest, since every one must decide',
      report([
        undecided(),
        undecided({
          metric: 'errorRate',
          harm: {
            limit: 0.3,
            bound: 0.4,
            shown: false,
            alpha: 0.05,
            needed: { factor: 2, seconds: 30 * HOUR },
          },
        }),
      ]),
      30 * HOUR,
    ],
    [
      'ratings still inside their feedback window: the wait, when longer',
      report([
        undecided({
          metric: 'thumbsDownRate',
          feedbackWindow: {
            seconds: 48 * HOUR,
            waitingSeconds: 20 * HOUR,
            immature: { baseline: 5, candidate: 5 },
          },
        }),
      ]),
      20 * HOUR,
    ],
    [
      'a bound already shown, waiting for feedback only',
      report([
        undecided({
          harm: { limit: 0.3, bound: 0.2, shown: true, alpha: 0.05, needed: null },
          feedbackWindow: { seconds: HOUR, waitingSeconds: 600, immature: { baseline: 1, candidate: 1 } },
        }),
      ]),
      600,
    ],
    [
      'the point estimate beyond the limit (inside the harm bound): off track',
      report([undecided({ relativeChange: 0.25 })]),
      null,
    ],
    [
      'output length below its -20% limit: off track',
      report([undecided({ metric: 'outputLengthDrop', limit: -0.2, relativeChange: -0.25 })]),
      null,
    ],
    [
      'output length within its limit: on track',
      report([undecided({ metric: 'outputLengthDrop', limit: -0.2, relativeChange: -0.1 })]),
      10 * HOUR,
    ],
    ['above the ceiling on the point estimate: off track', report([undecided({ ceiling: 0.05 })]), null],
    [
      'below its minimum samples: no projection',
      report([undecided({ samples: { baseline: 20_000, candidate: 300 } })]),
      null,
    ],
    [
      'no pace to project from (a paused step): no projection',
      report([
        undecided({
          harm: {
            limit: 0.3,
            bound: 0.33,
            shown: false,
            alpha: 0.05,
            needed: { factor: 1.2, seconds: null },
          },
        }),
      ]),
      null,
    ],
    [
      'one off track among several: none, the step cannot decide on the others alone',
      report([undecided(), undecided({ metric: 'errorRate', relativeChange: 0.5 })]),
      null,
    ],
    [
      'a guardrail without data holding the step: no projection',
      report([undecided(), undecided({ metric: 'latencyP95', verdict: 'NoData' })]),
      null,
    ],
    [
      'a Successful report: nothing to project',
      report([passed('refusalRate')], { verdict: 'Successful' }),
      null,
    ],
    [
      'a Failed report: nothing to project',
      report([undecided({ verdict: 'Failed' })], { verdict: 'Failed' }),
      null,
    ],
  ])('%s', (_name, r, expected) => {
    expect(projectedSecondsToDecide(r)).toBe(expected);
  });
});
