import type { GuardrailResult } from '../guardrails/guardrail-report';
import { guardrailLine } from './guardrail-wording';

const base: GuardrailResult = {
  metric: 'refusalRate',
  verdict: 'Successful',
  proven: false,
  baseline: 0.04,
  candidate: 0.041,
  relativeChange: 0.025,
  interval: { lower: -1, upper: 1102.63 },
  candidateInterval: null,
  limit: 0.2,
  ceiling: null,
  samples: { baseline: 5000, candidate: 1000 },
  minSamples: 700,
  reason: 'technical',
  requirement: 'noEvidenceOfHarm',
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
    const line = guardrailLine({ ...base, ...over });
    expect([line.status, line.headline]).toEqual([status, headline]);
    // The interval is never in the words.
    expect(line.headline).not.toMatch(/\[|1102|interval/);
  });
});
