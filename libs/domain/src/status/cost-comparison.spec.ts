import { emptyArmStats, type ArmStats } from '../guardrails/arm-stats';
import { compareCost } from './cost-comparison';

function arm(a: {
  requests: number;
  errors?: number;
  useful: number;
  priced: number;
  usd: number;
}): ArmStats {
  const s = emptyArmStats();
  s.requests = a.requests;
  s.errors = a.errors ?? 0;
  s.usefulAnswers = a.useful;
  s.cost = { n: a.priced, sum: a.priced * a.usd, sumSq: a.priced * a.usd * a.usd };
  return s;
}

describe(compareCost.name, () => {
  it.each([
    {
      scenario: 'a dearer candidate per useful answer',
      baseline: arm({ requests: 1000, useful: 1000, priced: 1000, usd: 0.0018 }),
      candidate: arm({ requests: 1000, useful: 1000, priced: 1000, usd: 0.0021 }),
      sentence: 'cost per answer: $0.0021 vs $0.0018 (+17 %)',
      perRequest: 0.0021 / 0.0018 - 1,
    },
    {
      scenario: 'refusals make each useful answer dearer at the same price per request',
      baseline: arm({ requests: 1000, useful: 1000, priced: 1000, usd: 0.002 }),
      candidate: arm({ requests: 1000, useful: 800, priced: 1000, usd: 0.002 }),
      sentence: 'cost per answer: $0.0025 vs $0.002 (+25 %)',
      perRequest: 0,
    },
    {
      scenario: 'errors cost nothing and are not answers',
      baseline: arm({ requests: 1000, errors: 500, useful: 500, priced: 500, usd: 0.002 }),
      candidate: arm({ requests: 1000, useful: 1000, priced: 1000, usd: 0.002 }),
      sentence: 'cost per answer: $0.002 vs $0.002 (±0 %)',
      perRequest: 0,
    },
    {
      scenario: 'a candidate without prices',
      baseline: arm({ requests: 10, useful: 10, priced: 10, usd: 0.002 }),
      candidate: arm({ requests: 10, useful: 10, priced: 0, usd: 0 }),
      sentence: 'cost per answer: unknown (the candidate has no prices) vs $0.002',
      perRequest: null,
    },
    {
      scenario: 'no prices at all',
      baseline: arm({ requests: 10, useful: 10, priced: 0, usd: 0 }),
      candidate: arm({ requests: 10, useful: 10, priced: 0, usd: 0 }),
      sentence: 'cost: unknown (no prices on these versions, or no priced answers yet)',
      perRequest: null,
    },
  ])('$scenario', ({ baseline, candidate, sentence, perRequest }) => {
    const c = compareCost(baseline, candidate);
    expect(c.sentence).toBe(sentence);
    if (perRequest === null) expect(c.relativeDifference.perRequest).toBeNull();
    else expect(c.relativeDifference.perRequest).toBeCloseTo(perRequest, 9);
  });

  it('totals every priced answer and divides by answered requests and by useful answers', () => {
    const c = compareCost(
      arm({ requests: 100, errors: 10, useful: 60, priced: 90, usd: 0.01 }),
      arm({ requests: 1, useful: 1, priced: 1, usd: 0.01 }),
    );
    expect(c.baseline.totalUsd).toBeCloseTo(0.9, 12);
    expect(c.baseline.perRequestUsd).toBeCloseTo(0.01, 12);
    expect(c.baseline.perAnswerUsd).toBeCloseTo(0.015, 12);
    expect(c.relativeDifference.perAnswer).toBeCloseTo(0.01 / 0.015 - 1, 9);
  });
});
