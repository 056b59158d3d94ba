import type { RolloutPlan } from '../rollout/rollout.types';
import { DEFAULT_PLAN } from '../rollout/rollout-plan';
import { describeDecision, type DecisionRecord } from './decision-log';

const plan: RolloutPlan = {
  steps: [
    { type: 'shadow', sampleRate: 1, minDurationSeconds: 60 },
    { type: 'setWeight', weight: 20, minDurationSeconds: 60 },
    { type: 'setWeight', weight: 100, minDurationSeconds: 60 },
  ],
};
const refusalFailed = {
  metric: 'refusalRate',
  verdict: 'Failed',
  proven: false,
  reason: 'refusal rate 9.8% vs 4.1% baseline, +139% (interval +80%..+210%), limit +20%: exceeds the limit',
};
const passed = (proven: boolean) => ({ metric: 'errorRate', verdict: 'Successful', proven, reason: 'ok' });
const rec = (over: Partial<DecisionRecord>): DecisionRecord => ({
  type: 'StepAdvanced',
  actor: 'aviary-scheduler',
  automatic: true,
  reason: null,
  message: 'technical summary',
  evidence: {},
  ...over,
});

describe('describeDecision', () => {
  it.each<[string, Partial<DecisionRecord>, string, string]>([
    [
      'an approval names who approved, where and why',
      {
        type: 'Approved',
        automatic: false,
        actor: 'pm-alice',
        reason: 'shadow pairs look right',
        evidence: { fromStep: 0, toStep: 1 },
      },
      'Approved by pm-alice at shadow (100% sampled), on to 20%: “shadow pairs look right”',
      'good',
    ],
    [
      'a progress-deadline hold says it holds and who decides',
      { type: 'ProgressDeadlineExceeded', evidence: { fromStep: 1, toStep: 1 } },
      'Past its progress deadline at 20%: holding until the analysis allows it or an operator decides',
      'warn',
    ],
    [
      'an inconclusive watch is a warning, not a pass',
      {
        type: 'WatchInconclusive',
        message:
          "v2's watch is inconclusive: not enough answers after promotion to say (refusals: 120 of 700 answers)",
      },
      "v2's watch is inconclusive: not enough answers after promotion to say (refusals: 120 of 700 answers)",
      'warn',
    ],
    [
      'a deadline extension says the analysis is on track, for how long, and what ends it',
      { type: 'ProgressDeadlineExtended', evidence: { fromStep: 1, toStep: 1, secondsToDecide: 30 * 3600 } },
      'Past its progress deadline at 20%: holding on, the analysis is on track (projected to decide in ~30h); it rolls back if it goes off track or when the grace ends',
      'warn',
    ],
    [
      'a progress-deadline rollback says so',
      { type: 'DeadlineRolledBack', evidence: { fromStep: 1, toStep: 1 } },
      'Rolled back at 20%: the step passed its progress deadline',
      'bad',
    ],
    [
      'a retry against a changed stable version names both baselines',
      {
        type: 'Retried',
        automatic: false,
        actor: 'bob',
        reason: 'fixed the tokenizer',
        evidence: { fromStep: 1, toStep: 0, baseline: { label: 'v3' }, previousBaseline: { label: 'v1' } },
      },
      'Retried by bob: “fixed the tokenizer”; starting again with shadow (100% sampled) against v3, the stable version now (was v1)',
      'neutral',
    ],
    [
      'an automatic rollback names the failed guardrail with both arms and the interval',
      {
        type: 'AutoRolledBack',
        evidence: { fromStep: 1, toStep: 1, guardrails: [refusalFailed, passed(true)] },
      },
      'Rolled back at 20%: refusal rate 9.8% vs 4.1% baseline, +139% (interval +80%..+210%), limit +20%: exceeds the limit',
      'bad',
    ],
    [
      'a rollback in the shadow step failed by the judge says what the judge found',
      {
        type: 'AutoRolledBack',
        evidence: {
          fromStep: 0,
          toStep: 0,
          guardrails: [passed(false)],
          judge: { verdict: 'Failed', reason: 'judge: shadow wins or ties 31%' },
        },
      },
      'Rolled back in shadow (100% sampled): judge: shadow wins or ties 31%',
      'bad',
    ],
    [
      'a rollback without guardrail evidence falls back to the analysis detail',
      {
        type: 'AutoRolledBack',
        evidence: { fromStep: 0, toStep: 0, detail: 'golden set: candidate 7/10 vs baseline 9/10' },
      },
      'Rolled back in shadow (100% sampled): golden set: candidate 7/10 vs baseline 9/10',
      'bad',
    ],
    [
      'an advance counts the guardrails that passed and those proven',
      {
        type: 'StepAdvanced',
        evidence: { fromStep: 1, toStep: 2, guardrails: [passed(true), passed(false)] },
      },
      'Advanced from 20% to 100%: all 2 guardrails within limits (1 proven by their intervals)',
      'good',
    ],
    [
      'an advance on time alone says so',
      { type: 'StepAdvanced', evidence: { fromStep: 0, toStep: 1 } },
      'Advanced from shadow (100% sampled) to 20%: minimum time passed',
      'good',
    ],
    [
      'an operator rollback quotes the reason and names who',
      {
        type: 'RolledBack',
        automatic: false,
        actor: 'alice',
        reason: 'pager: bad JSON',
        evidence: { fromStep: 2, toStep: 2 },
      },
      'Rolled back at 100% by alice: “pager: bad JSON”',
      'bad',
    ],
    [
      'a manual promote is marked as an override',
      {
        type: 'Promoted',
        automatic: false,
        actor: 'bob',
        evidence: { fromStep: 0, toStep: 1, override: true },
      },
      'Promoted by bob from shadow (100% sampled) to 20% (manual override)',
      'warn',
    ],
    [
      'a pause says where',
      {
        type: 'Paused',
        automatic: false,
        actor: 'bob',
        reason: 'holiday',
        evidence: { fromStep: 1, toStep: 1 },
      },
      'Paused at 20% by bob: “holiday”',
      'warn',
    ],
    [
      'a retry says where it starts again',
      {
        type: 'Retried',
        automatic: false,
        actor: 'bob',
        reason: 'fixed the prompt',
        evidence: { fromStep: 1, toStep: 0 },
      },
      'Retried by bob: “fixed the prompt”; starting again with shadow (100% sampled)',
      'neutral',
    ],
    [
      'a rollout started with analysis off says its guardrails are not evaluated',
      { type: 'GuardrailsNotEvaluated', message: 'long technical text' },
      'Guardrails are not evaluated (AVIARY_ANALYSIS=time-only): steps advance on time only, nothing rolls back by itself',
      'warn',
    ],
    [
      'an unknown type shows its stored message',
      { type: 'SomethingNew', message: 'it happened' },
      'it happened',
      'neutral',
    ],
    [
      'evidence of the wrong shape does not throw',
      { type: 'AutoRolledBack', evidence: 'garbage', message: 'Rolled back: analysis Failed' },
      'Rolled back before start: Rolled back: analysis Failed',
      'bad',
    ],
  ])('%s', (_name, over, headline, tone) => {
    const line = describeDecision(rec(over), plan);
    expect(line.headline).toBe(headline);
    expect(line.tone).toBe(tone);
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'a default-plan step still undecided at its deadline names the deadline and the undecided guardrails',
      {
        fromStep: 1,
        toStep: 1,
        verdict: 'Inconclusive',
        guardrails: [
          {
            metric: 'refusalRate',
            verdict: 'Inconclusive',
            proven: false,
            reason: 'not enough answers: 120 of 700',
          },
        ],
      },
      'Rolled back at 5%: the step passed its progress deadline of 4d without enough evidence to decide, and was not on track to decide within its 8d grace (undecided: not enough answers: 120 of 700)',
    ],
    [
      'a default-plan step whose analysis could not run at its deadline says so',
      { fromStep: 0, toStep: 0, verdict: 'Error' },
      'Rolled back in shadow (100% sampled): the step passed its progress deadline of 6d with the analysis unable to run',
    ],
  ])('explains a deadline rollback: %s', (_name, evidence, headline) => {
    const line = describeDecision(rec({ type: 'DeadlineRolledBack', evidence }), DEFAULT_PLAN);

    expect(line).toMatchObject({ headline, tone: 'bad' });
  });

  it('keeps the full technical summary as the detail', () => {
    expect(describeDecision(rec({ message: 'Advanced from 5% to 20% after 2h 0m' }), plan).detail).toBe(
      'Advanced from 5% to 20% after 2h 0m',
    );
  });
});

describe('describeDecision in plain words (the status page)', () => {
  const failed = { ...refusalFailed, baseline: 0.041, candidate: 0.098, relativeChange: 1.39, limit: 0.2 };
  it.each<[string, unknown, string]>([
    [
      'an automatic rollback says the figures in words, without the interval',
      { fromStep: 1, toStep: 1, guardrails: [failed, passed(true)] },
      'Rolled back at 20%: refusals: 4.1% vs 9.8% — 139% higher, worse than the allowed +20%',
    ],
    [
      'older evidence without the figures keeps its stored reason',
      { fromStep: 1, toStep: 1, guardrails: [refusalFailed] },
      'Rolled back at 20%: refusal rate 9.8% vs 4.1% baseline, +139% (interval +80%..+210%), limit +20%: exceeds the limit',
    ],
  ])('%s', (_name, evidence, headline) => {
    const line = describeDecision(rec({ type: 'AutoRolledBack', evidence }), plan, 'plain');
    expect(line.headline).toBe(headline);
    expect(line.detail).toBe('technical summary');
  });
});
