import { armMetrics } from './arm-metrics';
import { emptyArmStats, recordFeedback, recordOutcome, type RequestOutcome } from './arm-stats';

const ok: RequestOutcome = {
  error: false,
  refusal: false,
  empty: false,
  invalidJson: false,
  jsonRequested: false,
  latencyMs: 100,
  outputTokens: 10,
};

describe('armMetrics', () => {
  it('is all nulls for an arm without traffic', () => {
    expect(armMetrics(emptyArmStats())).toEqual({
      requests: 0,
      refusalRate: null,
      thumbsDownRate: null,
      errorRate: null,
      silentFailureRate: null,
      latencyP95Ms: null,
      meanOutputTokens: null,
    });
  });

  it('uses the guardrails’ denominators: errors over requests, refusals over answers, ratings over ratings', () => {
    const arm = emptyArmStats();
    for (let i = 0; i < 6; i++) recordOutcome(arm, ok);
    recordOutcome(arm, { ...ok, refusal: true, outputTokens: 30 });
    recordOutcome(arm, { ...ok, empty: true, outputTokens: 0 });
    recordOutcome(arm, { ...ok, error: true });
    recordOutcome(arm, { ...ok, error: true });
    recordFeedback(arm, 'down');
    recordFeedback(arm, 'up');
    recordFeedback(arm, 'up');
    recordFeedback(arm, 'up');
    const m = armMetrics(arm);
    expect(m.requests).toBe(10);
    expect(m.errorRate).toBeCloseTo(2 / 10);
    expect(m.refusalRate).toBeCloseTo(1 / 8);
    expect(m.silentFailureRate).toBeCloseTo(1 / 8);
    expect(m.thumbsDownRate).toBeCloseTo(1 / 4);
    expect(m.meanOutputTokens).toBeCloseTo((6 * 10 + 30 + 0) / 8);
    expect(m.latencyP95Ms).toBeGreaterThan(90);
    expect(m.latencyP95Ms).toBeLessThan(110);
  });
});

describe(`${recordOutcome.name} cost`, () => {
  it.each([
    { outcome: { ...ok, costUsd: 0.002 }, cost: { n: 1, sum: 0.002 }, useful: 1 },
    { outcome: { ...ok, costUsd: null }, cost: { n: 0, sum: 0 }, useful: 1 },
    { outcome: ok, cost: { n: 0, sum: 0 }, useful: 1 },
    { outcome: { ...ok, refusal: true, costUsd: 0.001 }, cost: { n: 1, sum: 0.001 }, useful: 0 },
    { outcome: { ...ok, empty: true, costUsd: 0.001 }, cost: { n: 1, sum: 0.001 }, useful: 0 },
    { outcome: { ...ok, error: true, costUsd: 0.001 }, cost: { n: 0, sum: 0 }, useful: 0 },
  ])('counts the cost of answered requests and the useful answers: %j', ({ outcome, cost, useful }) => {
    const a = recordOutcome(emptyArmStats(), outcome);
    expect(a.cost.n).toBe(cost.n);
    expect(a.cost.sum).toBeCloseTo(cost.sum, 12);
    expect(a.usefulAnswers).toBe(useful);
  });
});
