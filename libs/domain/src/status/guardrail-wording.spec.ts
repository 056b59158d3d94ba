import type { GuardrailResult } from '../guardrails/guardrail-report';
import { describeGuardrailPlainly, guardrailLine } from './guardrail-wording';

const base: GuardrailResult = {
  metric: 'refusalRate',
  verdict: 'Successful',
  proven: false,
  baseline: 0.005,
  candidate: 0.0052,
  relativeChange: 0.04,
  interval: { lower: -0.4, upper: 1102.63 },
  candidateInterval: null,
  limit: 0.2,
  ceiling: null,
  samples: { baseline: 100_000, candidate: 10_000 },
  minSamples: 700,
  reason: 'technical',
  requirement: 'noEvidenceOfHarm',
};

describe(describeGuardrailPlainly.name, () => {
  // prettier-ignore
  it.each<[string, Partial<GuardrailResult>, string]>([
    ['an early step that looks fine', {}, 'Fine so far: 4% higher than the baseline, no sign of harm beyond the allowed 20% higher.'],
    ['an early step that looks worse, not certainly', { relativeChange: 0.25 },
      'Looks 25% higher than the baseline (allowed: 20% higher), not certain: an early step goes on unless harm is shown; the step to everyone will have to show it is within bounds.'],
    ['the step to everyone, shown safe', { requirement: 'harmBound', harm: { limit: 0.3, bound: 0.24, shown: true, alpha: 0.05, needed: null } },
      'Fine: 4% higher than the baseline; with 95% confidence at most 24% higher (needed: below 30%).'],
    ['the step to everyone, not yet shown safe, with the time it needs', { verdict: 'Inconclusive', requirement: 'harmBound',
      harm: { limit: 0.3, bound: 0.62, shown: false, alpha: 0.05, needed: { factor: 2.4, seconds: 30 * 3600 } } },
      '4% higher than the baseline, not yet shown safe: needs about 30 hours more of this step\'s traffic to show it is at most 30% higher.'],
    ['waiting for feedback', { metric: 'thumbsDownRate', verdict: 'Inconclusive', requirement: 'harmBound', relativeChange: 0,
      feedbackWindow: { seconds: 6 * 3600, waitingSeconds: 2 * 3600 + 60, immature: { baseline: 40, candidate: 3 } } },
      'Waiting for 2 hours more of feedback on this step\'s answers (about the same as the baseline).'],
    ['too few samples', { verdict: 'Inconclusive', samples: { baseline: 5000, candidate: 450 } },
      'Collecting evidence: 450 of the 700 answers needed from each version.'],
    ['suspicious but not certain', { verdict: 'Inconclusive', requirement: 'harmBound', relativeChange: 0.35 },
      'Looks worse than allowed (35% higher than the baseline; allowed: 20% higher), not certain yet: holding until the evidence decides.'],
    ['failed', { verdict: 'Failed', relativeChange: 3, interval: { lower: 1.4, upper: 5 } },
      'Worse than allowed: the refusal rate is at least 140% higher (allowed: 20% higher).'],
    ['shorter answers failed', { metric: 'outputLengthDrop', verdict: 'Failed', limit: -0.3, relativeChange: -0.5, interval: { lower: -0.6, upper: -0.42 } },
      'Worse than allowed: the average answer is at least 42% shorter (allowed: 30% shorter).'],
    ['no ratings from the candidate', { metric: 'thumbsDownRate', verdict: 'NoData', samples: { baseline: 300, candidate: 0 } },
      'No ratings from the candidate yet.'],
  ])('%s', (_name, over, expected) => {
    const text = describeGuardrailPlainly({ ...base, ...over });
    expect(text).toBe(expected);
    expect(text).not.toMatch(/\[|1102|110263/);
  });
});

const lineBase: GuardrailResult = {
  ...base,
  baseline: 0.04,
  candidate: 0.041,
  relativeChange: 0.025,
  interval: { lower: -1, upper: 1102.63 },
  samples: { baseline: 5000, candidate: 1000 },
};

describe(guardrailLine.name, () => {
  // prettier-ignore
  it.each<[string, Partial<GuardrailResult>, string, string]>([
    ['an early step within the limit, not proven: no sign of harm, not "Pass"', {},
      'No sign of harm', 'refusals: 4% vs 4.1% — 3% higher, within the allowed +20%'],
    ['shown by its interval', { proven: true },
      'Shown within limits', 'refusals: 4% vs 4.1% — 3% higher, shown within the allowed +20%'],
    ['a "Successful" whose estimate is past the limit is not called a pass', { candidate: 0.05, relativeChange: 0.25 },
      'Looks worse, not certain', 'refusals: 4% vs 5% — 25% higher, more than the allowed +20%, not certain yet'],
    ['too few answers', { verdict: 'Inconclusive', samples: { baseline: 5000, candidate: 120 } },
      'Not enough data yet', 'refusals: not enough answers yet — 120 of 700'],
    ['waiting for feedback', { metric: 'thumbsDownRate', verdict: 'Inconclusive', baseline: 0.1, candidate: 0.1, relativeChange: 0,
      feedbackWindow: { seconds: 6 * 3600, waitingSeconds: 2 * 3600, immature: { baseline: 40, candidate: 3 } } },
      'Waiting for feedback', 'thumbs-down: 10% vs 10% — waiting for 2 hours more of feedback'],
    ['the step to everyone, not yet shown', { verdict: 'Inconclusive', requirement: 'harmBound' },
      'Not yet shown safe', 'refusals: 4% vs 4.1% — 3% higher; not yet shown within the allowed +20% for everyone'],
    ['failed', { verdict: 'Failed', candidate: 0.2, relativeChange: 4 },
      'Worse than allowed', 'refusals: 4% vs 20% — 400% higher, worse than the allowed +20%'],
    ['over its ceiling', { metric: 'errorRate', verdict: 'Failed', baseline: 0.02, candidate: 0.021, relativeChange: 0.05, ceiling: 0.02 },
      'Worse than allowed', 'errors: 2% vs 2.1% — above the 2% ceiling'],
    ['shorter answers', { metric: 'outputLengthDrop', verdict: 'Successful', baseline: 80, candidate: 60, relativeChange: -0.25, limit: -0.3 },
      'No sign of harm', 'answer length: 80 tokens vs 60 tokens — 25% shorter, within the allowed 30% shorter'],
    ['latency, the same', { metric: 'latencyP95', baseline: 200, candidate: 201, relativeChange: 0.004 },
      'No sign of harm', 'latency (p95): 200 ms vs 201 ms — about the same, within the allowed +20%'],
    ['no ratings from the candidate', { metric: 'thumbsDownRate', verdict: 'NoData', baseline: 0.1, candidate: null, samples: { baseline: 300, candidate: 0 } },
      'No data yet', 'thumbs-down: no ratings from the candidate yet'],
  ])('%s', (_name, over, status, headline) => {
    const line = guardrailLine({ ...lineBase, ...over });
    expect([line.status, line.headline]).toEqual([status, headline]);
    // The interval is never in the words.
    expect(line.headline).not.toMatch(/\[|1102|interval/);
  });
});
