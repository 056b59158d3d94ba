import type { RolloutPhase, RolloutPlan } from '../rollout/rollout.types';
import type { GuardrailLine } from './guardrail-wording';
import {
  analysisHeadline,
  describeChange,
  historyCounts,
  PHASE_LABELS,
  rolloutAttempts,
  splitLegend,
  type ChangeRecord,
  type StoryEvent,
} from './rollout-story';

const plan: RolloutPlan = {
  steps: [
    { type: 'shadow', sampleRate: 0.5, minDurationSeconds: 60 },
    { type: 'setWeight', weight: 5, minDurationSeconds: 60 },
    { type: 'setWeight', weight: 100, minDurationSeconds: 60 },
  ],
};
const t = (s: number) => new Date(Date.UTC(2026, 10, 30, 9, 0, s));
const ev = (
  type: string,
  s: number,
  fromStep: number,
  toStep: number,
  toPhase: RolloutPhase,
  who: { actor?: string; automatic?: boolean; headline?: string } = {},
): StoryEvent => ({
  type,
  at: t(s),
  fromStep,
  toStep,
  toPhase,
  actor: who.actor ?? 'alice',
  automatic: who.automatic ?? false,
  headline: who.headline ?? type,
});

describe(rolloutAttempts.name, () => {
  const firstAttempt = [
    ev('Started', 1, -1, 0, 'Progressing'),
    ev('StepAdvanced', 10, 0, 1, 'Progressing', { automatic: true, actor: 'scheduler' }),
    ev('AutoRolledBack', 20, 1, 1, 'RolledBack', {
      automatic: true,
      actor: 'scheduler',
      headline: 'Rolled back at 5%: refusal rate 20% vs 4% baseline',
    }),
  ];

  it('keeps the automatic rollback of attempt 1 after a retry, with its own timeline', () => {
    const attempts = rolloutAttempts(plan, { phase: 'Progressing', stepIndex: 0 }, [
      ...firstAttempt,
      ev('Retried', 30, 1, 0, 'Progressing', { actor: 'bob' }),
    ]);
    expect(attempts.map((a) => a.summary)).toEqual([
      'Attempt 1: rolled back automatically — Rolled back at 5%: refusal rate 20% vs 4% baseline',
      'Attempt 2: in progress',
    ]);
    expect(attempts[0]!.steps.map((s) => s.status)).toEqual(['done', 'stopped', 'upcoming']);
    expect(attempts[0]!.ending).toMatchObject({ kind: 'rolledBack', by: 'Aviary (automatic)', at: t(20) });
    expect(attempts[1]!.steps.map((s) => s.status)).toEqual(['current', 'upcoming', 'upcoming']);
    expect(attempts[1]!.startedBy).toBe('bob');
  });

  it.each<[string, StoryEvent[], RolloutPhase, number, string[]]>([
    ['a pending rollout has no attempt yet', [], 'Pending', -1, []],
    [
      'a manual rollback names who did it',
      [
        ev('Started', 1, -1, 0, 'Progressing'),
        ev('RolledBack', 5, 0, 0, 'RolledBack', { headline: 'Rolled back in shadow' }),
      ],
      'RolledBack',
      0,
      ['Attempt 1: rolled back by alice — Rolled back in shadow'],
    ],
    [
      'a completed rollout',
      [
        ev('Started', 1, -1, 0, 'Progressing'),
        ev('Completed', 9, 2, 2, 'Healthy', { automatic: true, headline: 'Completed' }),
      ],
      'Healthy',
      2,
      ['Attempt 1: completed automatically — Completed'],
    ],
  ])('%s', (_name, events, phase, stepIndex, summaries) => {
    expect(rolloutAttempts(plan, { phase, stepIndex }, events).map((a) => a.summary)).toEqual(summaries);
  });
});

describe(analysisHeadline.name, () => {
  const line = (status: string, tone: GuardrailLine['tone']): GuardrailLine => ({
    standing: 'noSignOfHarm',
    status,
    tone,
    headline: '',
  });
  const lines = [
    line('No sign of harm', 'good'),
    line('Not enough data yet', 'waiting'),
    line('No sign of harm', 'good'),
  ];
  const ending = { kind: 'rolledBack' as const, at: t(1), by: 'alice', automatic: false, headline: '' };

  it.each<[string, RolloutPhase, string, string]>([
    [
      'a rolled-back rollout says what happened, not "collecting evidence"',
      'RolledBack',
      'Inconclusive',
      'Rolled back by alice: the baseline serves everyone. The figures below are from when it stopped.',
    ],
    [
      'a completed rollout',
      'Healthy',
      'Successful',
      'Completed: the candidate is the stable version. The figures below are from its last step.',
    ],
    [
      'a step still collecting, worst first',
      'Progressing',
      'Inconclusive',
      'Not decided yet: 1 not enough data yet; 2 no sign of harm.',
    ],
    [
      'a passing step',
      'Progressing',
      'Successful',
      'Every guardrail is within its limit for this step (1 not enough data yet; 2 no sign of harm).',
    ],
  ])('%s', (_name, phase, verdict, expected) => {
    expect(analysisHeadline(phase, verdict, lines, ending).headline).toBe(expected);
  });
});

describe(splitLegend.name, () => {
  it('says who the cohort is when a step serves one the candidate', () => {
    const cohort = { header: { name: 'x-aviary-cohort', value: 'internal' } };
    expect(
      splitLegend(
        { candidateWeight: 5, shadowSampleRate: null, baselineWarm: true, cohort },
        { baseline: 'v1', candidate: 'v2' },
      )[1]?.text,
    ).toBe('v2 (candidate): 5% of users, plus the cohort (x-aviary-cohort: internal)');
  });

  it('names each colour of the bar, and what the shadow copies are', () => {
    expect(
      splitLegend(
        { candidateWeight: 0, shadowSampleRate: 0.5, baselineWarm: true, cohort: null },
        { baseline: 'v1', candidate: 'v2' },
      ).map((i) => i.text),
    ).toEqual([
      'v1 (baseline): 100% of users',
      'v2 (candidate): 0% of users',
      "50% of requests also copied to v2 in the background (users see only the baseline's answer)",
    ]);
    expect(
      splitLegend(
        { candidateWeight: 20, shadowSampleRate: null, baselineWarm: true, cohort: null },
        { baseline: 'v1', candidate: 'v2' },
      ).map((i) => i.role),
    ).toEqual(['baseline', 'candidate']);
  });
});

describe(describeChange.name, () => {
  const c = (type: string, automatic = false): ChangeRecord => ({
    type,
    at: t(0),
    model: 'support-bot',
    baseline: 'v1',
    candidate: 'v2',
    actor: 'alice',
    automatic,
    headline: 'why',
  });
  it.each<[string, string, boolean, string | null]>([
    ['Started', 'Started', false, 'support-bot: rollout of v2 started (replacing v1)'],
    ['Completed', 'Completed', true, 'support-bot: v2 is now the stable version (was v1)'],
    ['promoted to the end', 'PromotedFull', false, 'support-bot: v2 is now the stable version (was v1)'],
    [
      'an automatic rollback',
      'AutoRolledBack',
      true,
      'support-bot: v2 rolled back automatically; v1 serves everyone',
    ],
    ['a manual rollback', 'RolledBack', false, 'support-bot: v2 rolled back; v1 serves everyone'],
    ['a revert', 'Reverted', false, 'support-bot: v2 reverted; v1 is the stable version again'],
    ['a step advance is not a change of the week', 'StepAdvanced', true, null],
  ])('%s', (_name, type, automatic, title) => {
    expect(describeChange(c(type, automatic))?.title ?? null).toBe(title);
  });
});

describe(historyCounts.name, () => {
  it.each<[RolloutPhase[], string]>([
    [[], 'No rollouts yet.'],
    [['Healthy'], '1 rollout: 1 completed.'],
    [
      ['Progressing', 'RolledBack', 'RolledBack', 'Healthy'],
      '4 rollouts: 1 completed, 2 rolled back, 1 in progress.',
    ],
  ])('%j', (phases, expected) => {
    expect(historyCounts(phases)).toBe(expected);
  });
});

describe('PHASE_LABELS', () => {
  it('says the API name where the words differ', () => {
    expect(PHASE_LABELS.Healthy).toBe('Completed (Healthy)');
    expect(PHASE_LABELS.Pending).toBe('Not started (Pending)');
  });
});
