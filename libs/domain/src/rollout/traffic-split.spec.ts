import type { Cohort } from './cohort';
import { DEFAULT_PLAN } from './rollout-plan';
import { initialState } from './rollout-state-machine';
import type { PlanStep, RolloutPhase, RolloutState, TrafficSplit } from './rollout.types';
import {
  cohortAnalysisNote,
  currentStep,
  currentWeight,
  deadlineAt,
  deriveSplit,
  describeStep,
  nextStepAt,
  requireCurrentStep,
} from './traffic-split';

const T0 = new Date('2025-03-03T09:00:00Z');
const HOUR = 60 * 60 * 1000;
const at = (hours: number): Date => new Date(T0.getTime() + hours * HOUR);

const plan = {
  steps: [
    { type: 'shadow', sampleRate: 0.5, minDurationSeconds: 72 * 3600 },
    { type: 'setWeight', weight: 5, minDurationSeconds: 48 * 3600 },
    { type: 'setWeight', weight: 100, minDurationSeconds: 48 * 3600 },
    { type: 'bake', minDurationSeconds: 48 * 3600 },
  ],
} as const;

const state = (phase: RolloutPhase, stepIndex: number, extra: Partial<RolloutState> = {}): RolloutState => ({
  ...initialState(plan),
  phase,
  stepIndex,
  stepStartedAt: stepIndex < 0 ? null : T0,
  ...extra,
});

/** gate, shadow, gate, 20%, timed pause 1h (deadline 2h), 100%. */
const paused = {
  steps: [
    { type: 'pause' },
    { type: 'shadow', sampleRate: 0.5, minDurationSeconds: 3600 },
    { type: 'pause' },
    { type: 'setWeight', weight: 20, minDurationSeconds: 3600 },
    { type: 'pause', durationSeconds: 3600, maxDurationSeconds: 7200 },
    { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
  ],
} as const;
const inPaused = (stepIndex: number, phase: RolloutPhase = 'Progressing'): RolloutState => ({
  ...initialState(paused),
  phase,
  stepIndex,
  stepStartedAt: T0,
  ...(phase === 'Paused' ? { pausedAt: T0 } : {}),
});

const split = (
  candidateWeight: number,
  shadowSampleRate: number | null,
  baselineWarm: boolean,
  cohort: Cohort | null = null,
): TrafficSplit => ({
  candidateWeight,
  shadowSampleRate,
  baselineWarm,
  cohort,
});

const internal: Cohort = { header: { name: 'x-aviary-cohort', value: 'internal' } };
/** internal users only, internal + 5%, a gate, 100% (the cohort no longer needed). */
const cohortPlan = {
  steps: [
    {
      type: 'setWeight',
      weight: 0,
      minDurationSeconds: 3600,
      maxDurationSeconds: 7200,
      onDeadline: 'rollback',
      cohort: internal,
    },
    { type: 'setWeight', weight: 5, minDurationSeconds: 3600, cohort: internal },
    { type: 'pause' },
    { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
  ],
} as const;
const inCohortPlan = (stepIndex: number, phase: RolloutPhase = 'Progressing'): RolloutState => ({
  ...initialState(cohortPlan),
  phase,
  stepIndex,
  stepStartedAt: T0,
});

describe(deriveSplit.name, () => {
  // prettier-ignore
  it.each<[string, RolloutState, TrafficSplit]>([
    ['serves only the baseline before start', state('Pending', -1), split(0, null, true)],
    ['mirrors a sample of baseline requests while shadowing', state('Progressing', 0), split(0, 0.5, true)],
    ['serves the step weight to the candidate', state('Progressing', 1), split(5, null, true)],
    ['serves all but the 5% holdback from the candidate at 100%, the baseline still warm', state('Progressing', 2), split(95, null, true)],
    ['keeps the holdback on the baseline during the bake', state('Progressing', 3), split(95, null, true)],
    ['holds back what the plan says at 100%', state('Progressing', 2, { plan: { ...plan, holdbackPercent: 10 } }), split(90, null, true)],
    ['serves everyone at 100% when the plan turns the holdback off', state('Progressing', 3, { plan: { ...plan, holdbackPercent: 0 } }), split(100, null, true)],
    ['keeps shadowing while paused in shadow', state('Paused', 0, { pausedAt: T0 }), split(0, 0.5, true)],
    ['keeps the step weight while paused', state('Paused', 1, { pausedAt: T0 }), split(5, null, true)],
    ['keeps the bake split while paused in the bake', state('Paused', 3, { pausedAt: T0 }), split(95, null, true)],
    ['lets the baseline go once finished', state('Healthy', 3), split(100, null, false)],
    ['returns everyone to the baseline after a rollback', state('RolledBack', 1), split(0, null, true)],
    ['returns everyone to the baseline after a rollback from the bake', state('RolledBack', 3), split(0, null, true)],
    ['serves only the baseline at a gate before any step', inPaused(0), split(0, null, true)],
    ['keeps shadowing at a gate after shadow', inPaused(2), split(0, 0.5, true)],
    ['keeps the weight in a timed pause', inPaused(4), split(20, null, true)],
    ['keeps the weight in a paused pause', inPaused(4, 'Paused'), split(20, null, true)],
    ['serves a cohort step\'s cohort alone at weight 0', inCohortPlan(0), split(0, null, true, internal)],
    ['serves the cohort beside the random weight', inCohortPlan(1), split(5, null, true, internal)],
    ['keeps the cohort at a gate after a cohort step', inCohortPlan(2), split(5, null, true, internal)],
    ['drops the cohort at a step without one', inCohortPlan(3), split(95, null, true)],
    ['drops the cohort after a rollback', inCohortPlan(1, 'RolledBack'), split(0, null, true)],
  ])('%s', (_name, given, expected) => {
    expect(deriveSplit(given)).toEqual(expected);
  });

  it('treats a started rollout without a step as a bug', () => {
    expect(() => deriveSplit(state('Progressing', 9))).toThrow(
      /corrupt rollout state: Progressing at step 9/,
    );
  });
});

describe(cohortAnalysisNote.name, () => {
  it.each([
    [0, /cohort \(x-aviary-cohort: internal\) only: .*not a random sample.*promote/],
    [1, /left out of the comparison.*random 5% only/],
    [2, /left out of the comparison/],
  ])('says at step %d that cohort requests are not counted', (index, note) => {
    expect(cohortAnalysisNote(cohortPlan, index)).toMatch(note);
  });

  it('says nothing at a step without a cohort', () => {
    expect(cohortAnalysisNote(cohortPlan, 3)).toBeNull();
  });
});

describe(currentWeight.name, () => {
  it('is the candidate weight of the split', () => {
    expect(currentWeight(state('Progressing', 1))).toBe(5);
    expect(currentWeight(state('Pending', -1))).toBe(0);
  });
});

describe(describeStep.name, () => {
  it.each<[PlanStep, string]>([
    [{ type: 'shadow', sampleRate: 0.5, minDurationSeconds: 0 }, 'shadow (50% sampled)'],
    [{ type: 'shadow', sampleRate: 1, minDurationSeconds: 0 }, 'shadow (100% sampled)'],
    [{ type: 'shadow', sampleRate: 0.07, minDurationSeconds: 0 }, 'shadow (7% sampled)'],
    [{ type: 'shadow', sampleRate: 0.125, minDurationSeconds: 0 }, 'shadow (12.5% sampled)'],
    [{ type: 'setWeight', weight: 5, minDurationSeconds: 0 }, '5%'],
    [
      {
        type: 'setWeight',
        weight: 0,
        minDurationSeconds: 0,
        maxDurationSeconds: 3600,
        onDeadline: 'rollback',
        cohort: internal,
      },
      'cohort (x-aviary-cohort: internal)',
    ],
    [
      { type: 'setWeight', weight: 5, minDurationSeconds: 0, cohort: { userIds: ['a', 'b'] } },
      'cohort (2 users) + 5%',
    ],
    [{ type: 'bake', minDurationSeconds: 0 }, 'bake at 100%'],
    [{ type: 'pause' }, 'approval gate'],
    [{ type: 'pause', durationSeconds: 90 }, 'pause 2m'],
    [{ type: 'pause', durationSeconds: 45 }, 'pause 45s'],
    [{ type: 'pause', durationSeconds: 9000 }, 'pause 2h 30m'],
    [{ type: 'pause', durationSeconds: 2 * 86_400 }, 'pause 2d'],
  ])('describes %j as "%s"', (step, label) => {
    expect(describeStep(step)).toBe(label);
  });

  it('labels every default step', () => {
    expect(DEFAULT_PLAN.steps.map(describeStep)).toEqual([
      'shadow (100% sampled)',
      '5%',
      '20%',
      '50%',
      '100%',
      'bake at 100%',
    ]);
  });
});

describe(nextStepAt.name, () => {
  // prettier-ignore
  it.each<[string, RolloutState, Date | null]>([
    ['is the end of the step minimum while progressing', state('Progressing', 1), at(48)],
    ['counts from a step start shifted by a pause', state('Progressing', 0, { stepStartedAt: at(10) }), at(82)],
    ['is null before start', state('Pending', -1), null],
    ['is null while paused, because the clock is stopped', state('Paused', 1, { pausedAt: at(1) }), null],
    ['is null once finished', state('Healthy', 3), null],
    ['is null after a rollback', state('RolledBack', 1), null],
    ['is null at a gate: it waits for an approval, not for time', inPaused(2), null],
    ['is the end of a timed pause', inPaused(4), at(1)],
  ])('%s', (_name, given, expected) => {
    expect(nextStepAt(given)).toEqual(expected);
  });
});

describe(deadlineAt.name, () => {
  // prettier-ignore
  it.each<[string, RolloutState, Date | null]>([
    ['is the step start plus its maxDurationSeconds', inPaused(4), at(2)],
    ['is null for a step without a deadline', inPaused(3), null],
    ['is null while paused', inPaused(4, 'Paused'), null],
  ])('%s', (_name, given, expected) => {
    expect(deadlineAt(given)).toEqual(expected);
  });
});

describe(currentStep.name, () => {
  it('is null before start and the plan step afterwards', () => {
    expect(currentStep(state('Pending', -1))).toBeNull();
    expect(currentStep(state('RolledBack', 1))).toBe(plan.steps[1]);
    expect(() => requireCurrentStep(state('Pending', -1))).toThrow(/corrupt rollout state/);
  });
});
