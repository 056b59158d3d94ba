import type { GuardrailResult } from '../guardrails/guardrail-report';
import { describeGuardrailPlainly } from './guardrail-wording';

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
