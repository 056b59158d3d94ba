import { DomainError } from '../errors/domain-error';
import {
  DEFAULT_PLAN,
  MAX_STEP_DURATION_SECONDS,
  assertValidPlan,
  compressedPlan,
  validatePlan,
} from './rollout-plan';
import type { Cohort } from './cohort';
import type { PlanStep } from './rollout.types';

const DAY = 24 * 60 * 60;
const shadow = (sampleRate = 1, minDurationSeconds = 0): PlanStep => ({
  type: 'shadow',
  sampleRate,
  minDurationSeconds,
});
const weight = (w: number, minDurationSeconds = 0): PlanStep => ({
  type: 'setWeight',
  weight: w,
  minDurationSeconds,
});
const bake = (minDurationSeconds = 0): PlanStep => ({ type: 'bake', minDurationSeconds });
const gate = (extra: Partial<Extract<PlanStep, { type: 'pause' }>> = {}): PlanStep => ({
  type: 'pause',
  ...extra,
});
const cohortStep = (w: number, cohort: Cohort): PlanStep => ({
  type: 'setWeight',
  weight: w,
  minDurationSeconds: 0,
  cohort,
  // A cohort-only step must end itself (see the rule below); other tests are about other rules.
  ...(w === 0 ? { maxDurationSeconds: DAY, onDeadline: 'rollback' as const } : {}),
});
const withDeadline = (step: PlanStep, maxDurationSeconds: number, onDeadline?: string): PlanStep =>
  ({ ...step, maxDurationSeconds, ...(onDeadline ? { onDeadline } : {}) }) as PlanStep;

describe(validatePlan.name, () => {
  interface InvalidRow {
    readonly rule: string;
    readonly steps: readonly PlanStep[];
    readonly path: string;
    readonly message: RegExp;
    /** Some rules cannot be broken alone; the rest of the issues are other rows' business. */
    readonly issueCount?: number;
  }

  // One row per rule, kept on one line each so the table reads as a table.
  // prettier-ignore
  const invalid: readonly InvalidRow[] = [
    { rule: 'needs at least one step', steps: [], path: 'steps', message: /at least one step/ },
    { rule: 'weights are whole numbers', steps: [weight(12.5), weight(100)], path: 'steps[0].weight', message: /whole percentage/ },
        { rule: 'weights are at most 100', steps: [weight(101), weight(100)], path: 'steps[0].weight', message: /from 1 to 100/ },
    { rule: 'weights are numbers', steps: [weight(Number.NaN), weight(100)], path: 'steps[0].weight', message: /from 1 to 100/ },
    { rule: 'weights never repeat', steps: [weight(20), weight(20), weight(100)], path: 'steps[1].weight', message: /greater than 20 \(steps\[0\]\.weight\)/ },
    { rule: 'weights never go down', steps: [weight(50), weight(20), weight(100)], path: 'steps[1].weight', message: /greater than 50/ },
    { rule: 'at most one shadow step', steps: [shadow(), shadow(), weight(100)], path: 'steps[1]', message: /only one shadow step.*steps\[0\]/ },
    { rule: 'shadow comes before any setWeight', steps: [weight(5), shadow(), weight(100)], path: 'steps[1]', message: /before any setWeight.*steps\[0\]/ },
    { rule: 'sampleRate is above 0', steps: [shadow(0), weight(100)], path: 'steps[0].sampleRate', message: /greater than 0 and at most 1/ },
    { rule: 'sampleRate is at most 1', steps: [shadow(1.5), weight(100)], path: 'steps[0].sampleRate', message: /at most 1/ },
    { rule: 'sampleRate is a number', steps: [shadow(Number.NaN), weight(100)], path: 'steps[0].sampleRate', message: /at most 1/ },
    { rule: 'durations are not negative', steps: [weight(100, -1)], path: 'steps[0].minDurationSeconds', message: /from 0 to 7776000/ },
    { rule: 'durations are whole seconds', steps: [shadow(1, 0.5), weight(100)], path: 'steps[0].minDurationSeconds', message: /whole number of seconds/ },
    { rule: 'durations are at most 90 days', steps: [weight(100), bake(90 * DAY + 1)], path: 'steps[1].minDurationSeconds', message: /90 days/ },
    { rule: 'bake is the last step', steps: [weight(100), bake(), bake()], path: 'steps[1]', message: /bake must be the last step/, issueCount: 2 },
    { rule: 'bake follows setWeight 100', steps: [weight(50), bake()], path: 'steps[1]', message: /follow a setWeight 100/, issueCount: 2 },
    { rule: 'bake follows setWeight 100, pauses between or not', steps: [weight(50), gate(), bake()], path: 'steps[2]', message: /follow a setWeight 100/, issueCount: 2 },
    { rule: 'a timed pause lasts whole seconds', steps: [weight(20), gate({ durationSeconds: 1.5 }), weight(100)], path: 'steps[1].durationSeconds', message: /whole number of seconds/ },
    { rule: 'a progress deadline is at least a second', steps: [withDeadline(weight(100), 0)], path: 'steps[0].maxDurationSeconds', message: /from 1 to/ },
    { rule: 'a progress deadline is not shorter than the step', steps: [withDeadline(weight(100, 600), 300)], path: 'steps[0].maxDurationSeconds', message: /not be shorter than the step's own duration \(600 s\)/ },
    { rule: 'a timed pause fits in its deadline', steps: [withDeadline(gate({ durationSeconds: 60 }), 30), weight(100)], path: 'steps[0].maxDurationSeconds', message: /60 s/ },
    { rule: 'a deadline policy is hold or rollback', steps: [withDeadline(weight(100), 60, 'abort')], path: 'steps[0].onDeadline', message: /hold, rollback/ },
    { rule: 'a deadline policy needs a deadline', steps: [{ ...weight(100), onDeadline: 'rollback' }], path: 'steps[0].onDeadline', message: /needs maxDurationSeconds/ },
    { rule: 'a deadline grace is whole seconds', steps: [{ ...withDeadline(weight(100), 60, 'rollback'), deadlineGraceSeconds: 1.5 }], path: 'steps[0].deadlineGraceSeconds', message: /whole number of seconds/ },
    { rule: 'a deadline grace needs the rollback policy', steps: [{ ...withDeadline(weight(100), 60, 'hold'), deadlineGraceSeconds: 60 }], path: 'steps[0].deadlineGraceSeconds', message: /needs onDeadline "rollback"/ },
    { rule: 'a deadline grace needs a deadline', steps: [{ ...weight(100), deadlineGraceSeconds: 60 }], path: 'steps[0].deadlineGraceSeconds', message: /needs onDeadline "rollback"/ },
    { rule: 'the plan reaches 100%', steps: [shadow(), weight(5), weight(50)], path: 'steps', message: /never reaches 100%/ },
    { rule: 'a cohort says who is in it', steps: [cohortStep(0, {}), weight(100)], path: 'steps[0].cohort', message: /needs userIds, header or constraints/ },
    { rule: 'cohort user ids are a non-empty list', steps: [cohortStep(0, { userIds: [] }), weight(100)], path: 'steps[0].cohort.userIds', message: /list of 1 to 1000/ },
    { rule: 'cohort user ids are non-empty strings', steps: [cohortStep(0, { userIds: ['alice', ''] }), weight(100)], path: 'steps[0].cohort.userIds[1]', message: /string of 1 to 512/ },
    { rule: 'a cohort header is an x- header', steps: [cohortStep(0, { header: { name: 'Authorization', value: 'x' } }), weight(100)], path: 'steps[0].cohort.header.name', message: /starting with x-/ },
    { rule: 'a cohort header has a value', steps: [cohortStep(0, { header: { name: 'x-aviary-cohort', value: '' } }), weight(100)], path: 'steps[0].cohort.header.value', message: /string of 1 to 512/ },
    { rule: 'constraint operators are Unleash operators', steps: [cohortStep(0, { constraints: [{ contextName: 'region', operator: 'LIKE' as 'IN', values: ['eu'] }] }), weight(100)], path: 'steps[0].cohort.constraints[0].operator', message: /one of IN, NOT_IN, STR_CONTAINS/ },
    { rule: 'multi-value operators take values', steps: [cohortStep(0, { constraints: [{ contextName: 'region', operator: 'IN', value: 'eu' }] }), weight(100)], path: 'steps[0].cohort.constraints[0].values', message: /list of 1 to 1000/, issueCount: 2 },
    { rule: 'single-value operators take value', steps: [cohortStep(0, { constraints: [{ contextName: 'appVersion', operator: 'SEMVER_GT' }] }), weight(100)], path: 'steps[0].cohort.constraints[0].value', message: /SEMVER_GT compares with one value/ },
    { rule: 'constraints name a context field', steps: [cohortStep(0, { constraints: [{ contextName: '', operator: 'IN', values: ['a'] }] }), weight(100)], path: 'steps[0].cohort.constraints[0].contextName', message: /context field name/ },
    { rule: 'weight 0 needs a cohort', steps: [weight(0), weight(100)], path: 'steps[0].weight', message: /0 only with a cohort/ },
    { rule: 'a cohort-only step has a progress deadline', steps: [{ type: 'setWeight', weight: 0, minDurationSeconds: 60, cohort: { userIds: ['a'] } }, weight(100)], path: 'steps[0].maxDurationSeconds', message: /gathers no guardrail evidence/ },
    { rule: 'a cohort-only step rolls back at its deadline', steps: [withDeadline({ type: 'setWeight', weight: 0, minDurationSeconds: 60, cohort: { userIds: ['a'] } }, DAY, 'hold'), weight(100)], path: 'steps[0].onDeadline', message: /must be "rollback"/ },
    { rule: 'weights go up after a cohort step too', steps: [cohortStep(5, { userIds: ['a'] }), weight(5), weight(100)], path: 'steps[1].weight', message: /greater than 5/ },
    {
      rule: 'step types are known',
      steps: [{ type: 'analysis', minDurationSeconds: 0 } as unknown as PlanStep, weight(100)],
      path: 'steps[0].type',
      message: /unknown step type "analysis"/,
    },
  ];

  it.each(invalid)('reports $path when a plan breaks "$rule"', ({ steps, path, message, issueCount = 1 }) => {
    const issues = validatePlan({ steps });

    expect(issues).toContainEqual({ path, message: expect.stringMatching(message) as string });
    expect(issues).toHaveLength(issueCount);
  });

  it.each([
    { name: 'the default plan', steps: DEFAULT_PLAN.steps },
    { name: 'a single jump to 100%', steps: [weight(100)] },
    { name: 'shadow then 100%', steps: [shadow(0.01), weight(100)] },
    { name: '100% then bake', steps: [weight(100), bake()] },
    { name: 'zero and 90-day durations', steps: [shadow(1, 0), weight(100, MAX_STEP_DURATION_SECONDS)] },
    {
      name: 'an approval gate after shadow and a timed pause before 100%',
      steps: [shadow(), gate(), weight(50), gate({ durationSeconds: 600 }), weight(100)],
    },
    {
      name: 'internal users first, then 5% of everyone with the cohort kept',
      steps: [
        cohortStep(0, { header: { name: 'x-aviary-cohort', value: 'internal' } }),
        cohortStep(5, { header: { name: 'x-aviary-cohort', value: 'internal' } }),
        weight(100),
      ],
    },
    {
      name: 'a cohort of user ids and Unleash constraints',
      steps: [
        cohortStep(0, {
          userIds: ['alice', 'bob'],
          constraints: [
            { contextName: 'x-region', operator: 'STR_STARTS_WITH', values: ['eu-'], caseInsensitive: true },
            { contextName: 'x-app-version', operator: 'SEMVER_GT', value: '2.0.0' },
          ],
        }),
        weight(100),
      ],
    },
    { name: 'a plan that opens with a gate and ends with one', steps: [gate(), weight(100), gate()] },
    {
      name: 'a pause between 100% and the bake',
      steps: [weight(100), gate({ durationSeconds: 60 }), bake()],
    },
    {
      name: 'progress deadlines with either policy',
      steps: [
        withDeadline(weight(20, 60), 3600, 'rollback'),
        withDeadline(gate(), 86_400, 'hold'),
        withDeadline(weight(100), 60),
      ],
    },
  ])('accepts $name', ({ steps }) => {
    expect(validatePlan({ steps })).toEqual([]);
  });

  it.each([
    [-1, 'a negative holdback'],
    [51, 'a holdback past half the users'],
    [2.5, 'a fractional holdback'],
  ])('reports holdbackPercent for %d (%s)', (holdbackPercent) => {
    expect(validatePlan({ steps: [weight(100)], holdbackPercent })).toEqual([
      { path: 'holdbackPercent', message: 'must be a whole percentage from 0 to 50' },
    ]);
  });

  it.each([0, 5, 50])('accepts a holdback of %d%%', (holdbackPercent) => {
    expect(validatePlan({ steps: [weight(100)], holdbackPercent })).toEqual([]);
  });

  it('reports every issue at once so a plan can be fixed in one go', () => {
    const paths = validatePlan({ steps: [weight(0, -1), shadow(2)] }).map((i) => i.path);

    expect(paths).toEqual([
      'steps[0].minDurationSeconds',
      'steps[0].weight',
      'steps[1]',
      'steps[1].sampleRate',
      'steps',
    ]);
  });

  it('rejects a plan whose steps are not a list', () => {
    expect(validatePlan({ steps: null } as unknown as { steps: PlanStep[] })).toEqual([
      { path: 'steps', message: expect.stringMatching(/at least one step/) as string },
    ]);
  });
});

describe(assertValidPlan.name, () => {
  it('throws INVALID_PLAN carrying the issues', () => {
    const plan = { steps: [weight(5)] };
    const thrown = captureError(() => assertValidPlan(plan));

    expect(thrown).toBeInstanceOf(DomainError);
    expect(thrown).toMatchObject({ code: 'INVALID_PLAN', details: { issues: validatePlan(plan) } });
    expect((thrown as DomainError).message).toContain('steps the plan never reaches 100%');
  });

  it('accepts a valid plan', () => {
    expect(() => assertValidPlan(DEFAULT_PLAN)).not.toThrow();
  });
});

describe('DEFAULT_PLAN', () => {
  it('shadows for 3 days, then ramps 5/20/50/100% at 48 h each and bakes 48 h, each step rolling back at twice its minimum unless on track', () => {
    const deadline = (days: number) => ({
      maxDurationSeconds: 2 * days * DAY,
      onDeadline: 'rollback',
      deadlineGraceSeconds: 4 * days * DAY,
    });
    expect(DEFAULT_PLAN.steps).toEqual([
      { type: 'shadow', sampleRate: 1, minDurationSeconds: 3 * DAY, ...deadline(3) },
      { type: 'setWeight', weight: 5, minDurationSeconds: 2 * DAY, ...deadline(2) },
      { type: 'setWeight', weight: 20, minDurationSeconds: 2 * DAY, ...deadline(2) },
      { type: 'setWeight', weight: 50, minDurationSeconds: 2 * DAY, ...deadline(2) },
      { type: 'setWeight', weight: 100, minDurationSeconds: 2 * DAY, ...deadline(2) },
      { type: 'bake', minDurationSeconds: 2 * DAY, ...deadline(2) },
    ]);
  });

  it('cannot be edited by accident', () => {
    expect(Object.isFrozen(DEFAULT_PLAN)).toBe(true);
    expect(Object.isFrozen(DEFAULT_PLAN.steps)).toBe(true);
    expect(DEFAULT_PLAN.steps.every((step) => Object.isFrozen(step))).toBe(true);
  });
});

describe(compressedPlan.name, () => {
  it('keeps the default shape with every step at the given duration', () => {
    const plan = compressedPlan(30);

    expect(plan.steps.map((s) => s.type)).toEqual(DEFAULT_PLAN.steps.map((s) => s.type));
    expect(plan.steps.every((s) => s.type !== 'pause' && s.minDurationSeconds === 30)).toBe(true);
    expect(validatePlan(plan)).toEqual([]);
  });

  it('has no deadlines: a demo step of seconds holds until the analysis has its samples', () => {
    const plan = compressedPlan(30);

    expect(
      plan.steps.some(
        (s) =>
          s.maxDurationSeconds !== undefined ||
          s.onDeadline !== undefined ||
          s.deadlineGraceSeconds !== undefined,
      ),
    ).toBe(false);
  });

  it.each([-1, 1.5, Number.NaN])('refuses %p seconds per step', (seconds) => {
    expect(captureError(() => compressedPlan(seconds))).toMatchObject({ code: 'INVALID_PLAN' });
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
