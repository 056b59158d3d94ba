import { IllegalTransitionError } from '../errors/domain-error';
import { DEFAULT_PLAN, validatePlan, withoutDeadlines } from './rollout-plan';
import { ROLLOUT_EVENT_TYPES, initialState, transition } from './rollout-state-machine';
import {
  ROLLOUT_PHASES,
  type Actor,
  type AnalysisVerdict,
  type PlanStep,
  type RolloutEffect,
  type RolloutEvent,
  type RolloutEventType,
  type RolloutPhase,
  type RolloutPlan,
  type RolloutState,
  type TransitionCause,
  type TransitionResult,
} from './rollout.types';
import { currentWeight, nextStepAt } from './traffic-split';

const T0 = new Date('2025-03-03T09:00:00Z');
const HOUR = 60 * 60 * 1000;
const at = (hours: number): Date => new Date(T0.getTime() + hours * HOUR);
const alice: Actor = { name: 'alice', automatic: false };
const tick = (verdict: AnalysisVerdict, detail?: string): RolloutEvent => ({ type: 'tick', verdict, detail });
/** A tick whose analysis projects a decision `hours` away (projectedSecondsToDecide). */
const onTrack = (verdict: AnalysisVerdict, hours: number): RolloutEvent => ({
  type: 'tick',
  verdict,
  secondsToDecide: hours * 3600,
});

// DEFAULT_PLAN steps: 0 shadow 72h, 1 5%, 2 20%, 3 50%, 4 100%, 5 bake — every ramp step 48h.
const IN_20 = 2;
const BAKE = 5;

function progressing(stepIndex: number, plan: RolloutPlan = DEFAULT_PLAN): RolloutState {
  return { ...initialState(plan), phase: 'Progressing', stepIndex, stepStartedAt: T0 };
}

/** shadow, 20%, approval gate, 50%, timed pause (1h), 100%. */
const GATED: RolloutPlan = {
  steps: [
    { type: 'shadow', sampleRate: 1, minDurationSeconds: 3600 },
    { type: 'setWeight', weight: 20, minDurationSeconds: 3600 },
    { type: 'pause' },
    { type: 'setWeight', weight: 50, minDurationSeconds: 3600 },
    { type: 'pause', durationSeconds: 3600 },
    { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
  ],
};
const GATE = 2;
const TIMED = 4;
const GATED_WITH_DEADLINE: RolloutPlan = {
  steps: GATED.steps.map((s, i) =>
    i === GATE ? { ...s, maxDurationSeconds: 24 * 3600, onDeadline: 'rollback' } : s,
  ),
};
/** DEFAULT_PLAN with a 49h progress deadline on the 48h 20% step, and none on the others. */
function DEADLINED(onDeadline: 'hold' | 'rollback' | undefined): RolloutPlan {
  return {
    steps: withoutDeadlines(DEFAULT_PLAN).steps.map((s, i) =>
      i === IN_20 ? { ...s, maxDurationSeconds: 49 * 3600, ...(onDeadline ? { onDeadline } : {}) } : s,
    ),
  };
}

/** One representative state per phase, all at 20% where a step applies; the step began at T0. */
const STATE: Record<RolloutPhase, RolloutState> = {
  Pending: initialState(DEFAULT_PLAN),
  Progressing: progressing(IN_20),
  Paused: { ...progressing(IN_20), phase: 'Paused', pausedAt: at(10), message: 'investigating latency' },
  Healthy: { ...progressing(BAKE), phase: 'Healthy' },
  RolledBack: { ...progressing(IN_20), phase: 'RolledBack', message: 'latency regression' },
};

const EVENT: Record<RolloutEventType, RolloutEvent> = {
  start: { type: 'start', actor: alice },
  promote: { type: 'promote', actor: alice },
  pause: { type: 'pause', actor: alice, reason: 'investigating latency' },
  resume: { type: 'resume', actor: alice },
  rollback: { type: 'rollback', actor: alice, reason: 'latency regression' },
  retry: { type: 'retry', actor: alice, reason: 'tokenizer config fixed' },
  tick: tick('Successful'),
};

/** Past the 48h minimum of the 20% step. */
const LATER = at(60);

type EffectType = RolloutEffect['type'];
const PUBLISH: EffectType[] = ['publishSplit'];
const ROLL_BACK: EffectType[] = ['publishSplit', 'markCandidateRolledBack'];
const COMPLETE: EffectType[] = ['publishSplit', 'promoteCandidateToStable'];

type Expected =
  | { readonly outcome: 'illegal'; readonly because: RegExp }
  | { readonly outcome: 'refused'; readonly code: string; readonly because: RegExp }
  | { readonly outcome: 'no-op' }
  | {
      readonly outcome: RolloutPhase;
      readonly cause: TransitionCause;
      readonly effects: readonly EffectType[];
      readonly stepIndex: number;
    };

interface Row {
  readonly name: string;
  readonly state: RolloutState;
  readonly event: RolloutEvent;
  readonly now: Date;
  readonly expected: Expected;
}

const row = (name: string, phase: RolloutPhase, type: RolloutEventType, expected: Expected): Row => ({
  name,
  state: STATE[phase],
  event: EVENT[type],
  now: LATER,
  expected,
});
const illegal = (because: RegExp): Expected => ({ outcome: 'illegal', because });
const noOp: Expected = { outcome: 'no-op' };
const refused = (code: string, because: RegExp): Expected => ({ outcome: 'refused', code, because });
const to = (
  outcome: RolloutPhase,
  cause: TransitionCause,
  effects: readonly EffectType[],
  stepIndex: number,
): Expected => ({ outcome, cause, effects, stepIndex });

/** Exactly one row per (phase × event type); see the exhaustiveness test. */
// prettier-ignore
const PHASE_EVENT_ROWS: readonly Row[] = [
  row('starts a pending rollout at its first step', 'Pending', 'start', to('Progressing', 'start', PUBLISH, 0)),
  row('refuses to promote a rollout that has not started', 'Pending', 'promote', illegal(/has not started/)),
  row('refuses to pause a rollout that has not started', 'Pending', 'pause', illegal(/has not started/)),
  row('refuses to resume a rollout that has not started', 'Pending', 'resume', illegal(/has not started/)),
  row('rolls back a rollout before it starts', 'Pending', 'rollback', to('RolledBack', 'rollback', ROLL_BACK, -1)),
  row('refuses to retry a rollout that was never rolled back', 'Pending', 'retry', illegal(/only a rolled-back/)),
  row('ignores a tick before start', 'Pending', 'tick', noOp),

  row('refuses to start a rollout twice', 'Progressing', 'start', illegal(/already started/)),
  row('promotes to the next step by hand', 'Progressing', 'promote', to('Progressing', 'promote', PUBLISH, 3)),
  row('pauses without changing the split', 'Progressing', 'pause', to('Paused', 'pause', [], IN_20)),
  row('refuses to resume a rollout that is not paused', 'Progressing', 'resume', illegal(/not paused/)),
  row('rolls back a progressing rollout', 'Progressing', 'rollback', to('RolledBack', 'rollback', ROLL_BACK, IN_20)),
  row('refuses to retry a progressing rollout', 'Progressing', 'retry', illegal(/only a rolled-back/)),
  row('advances from 20% to 50% once the minimum passed and analysis succeeds', 'Progressing', 'tick', to('Progressing', 'step-advanced', PUBLISH, 3)),

  row('refuses to start a paused rollout', 'Paused', 'start', illegal(/already started/)),
  row('promotes a paused rollout and resumes it', 'Paused', 'promote', to('Progressing', 'promote', PUBLISH, 3)),
  row('refuses to pause twice', 'Paused', 'pause', illegal(/already paused/)),
  row('resumes at the same step', 'Paused', 'resume', to('Progressing', 'resume', [], IN_20)),
  row('rolls back a paused rollout', 'Paused', 'rollback', to('RolledBack', 'rollback', ROLL_BACK, IN_20)),
  row('refuses to retry a paused rollout', 'Paused', 'retry', illegal(/only a rolled-back/)),
  row('ignores a tick while paused', 'Paused', 'tick', noOp),

  row('refuses to start a finished rollout', 'Healthy', 'start', illegal(/already started/)),
  row('refuses to promote a finished rollout', 'Healthy', 'promote', illegal(/already completed/)),
  row('refuses to pause a finished rollout', 'Healthy', 'pause', illegal(/already completed/)),
  row('refuses to resume a finished rollout', 'Healthy', 'resume', illegal(/already completed/)),
  row('refuses to roll back a finished rollout', 'Healthy', 'rollback', illegal(/start a new rollout/)),
  row('refuses to retry a finished rollout', 'Healthy', 'retry', illegal(/only a rolled-back/)),
  row('ignores a tick once finished', 'Healthy', 'tick', noOp),

  row('refuses to start a rolled-back rollout', 'RolledBack', 'start', illegal(/retry it with a reason/)),
  row('never promotes a rolled-back rollout', 'RolledBack', 'promote', illegal(/retry it with a reason/)),
  row('refuses to pause a rolled-back rollout', 'RolledBack', 'pause', illegal(/retry it with a reason/)),
  row('refuses to resume a rolled-back rollout', 'RolledBack', 'resume', illegal(/retry it with a reason/)),
  row('refuses to roll back twice', 'RolledBack', 'rollback', illegal(/already rolled back/)),
  row('retries a rolled-back rollout from the first step', 'RolledBack', 'retry', to('Progressing', 'retry', PUBLISH, 0)),
  row('never advances a rolled-back rollout on a tick', 'RolledBack', 'tick', noOp),
];

const variant = (
  name: string,
  state: RolloutState,
  event: RolloutEvent,
  now: Date,
  expected: Expected,
): Row => ({
  name,
  state,
  event,
  now,
  expected,
});
const BEFORE_MINIMUM = at(47);
const AT_MINIMUM = at(48);
const promote = (extra: { full?: boolean; reason?: string } = {}): RolloutEvent => ({
  type: 'promote',
  actor: alice,
  ...extra,
});

// prettier-ignore
const VARIANT_ROWS: readonly Row[] = [
  variant('holds at 20% when analysis succeeds before the minimum duration', STATE.Progressing, tick('Successful'), BEFORE_MINIMUM, noOp),
  variant('advances exactly when the minimum duration is reached', STATE.Progressing, tick('Successful'), AT_MINIMUM, to('Progressing', 'step-advanced', PUBLISH, 3)),
  variant('rolls back at once when analysis fails before the minimum duration', STATE.Progressing, tick('Failed'), BEFORE_MINIMUM, to('RolledBack', 'analysis-failed', ROLL_BACK, IN_20)),
  variant('rolls back when analysis fails after the minimum duration', STATE.Progressing, tick('Failed'), LATER, to('RolledBack', 'analysis-failed', ROLL_BACK, IN_20)),
  variant('holds at 20% when analysis is inconclusive before the minimum', STATE.Progressing, tick('Inconclusive'), BEFORE_MINIMUM, noOp),
  variant('holds at 20% when analysis is inconclusive', STATE.Progressing, tick('Inconclusive'), LATER, noOp),
  variant('holds at 20% when analysis errors before the minimum', STATE.Progressing, tick('Error'), BEFORE_MINIMUM, noOp),
  variant('holds at 20% when analysis errors', STATE.Progressing, tick('Error'), LATER, noOp),
  variant('completes after the bake when analysis succeeds', progressing(BAKE), tick('Successful'), LATER, to('Healthy', 'completed', COMPLETE, BAKE)),
  variant('holds in the bake when analysis is inconclusive', progressing(BAKE), tick('Inconclusive'), LATER, noOp),
  variant('rolls back from the bake when analysis fails', progressing(BAKE), tick('Failed'), LATER, to('RolledBack', 'analysis-failed', ROLL_BACK, BAKE)),
  variant('rolls back on a failed analysis while paused: paused never means unprotected', STATE.Paused, tick('Failed'), LATER, to('RolledBack', 'analysis-failed', ROLL_BACK, IN_20)),
  variant('rolls back on a failed analysis before the minimum while paused', STATE.Paused, tick('Failed'), BEFORE_MINIMUM, to('RolledBack', 'analysis-failed', ROLL_BACK, IN_20)),
  variant('does not advance a paused rollout on a successful analysis', STATE.Paused, tick('Successful'), LATER, noOp),
  // Approval gates: a pause without a duration.
  variant('enters a gate without publishing: the split stays as it was', progressing(GATE - 1, GATED), tick('Successful'), LATER, to('Progressing', 'step-advanced', [], GATE)),
  variant('waits at a gate however long the analysis succeeds', progressing(GATE, GATED), tick('Successful'), at(10_000), noOp),
  variant('rolls back at a gate when the analysis fails', progressing(GATE, GATED), tick('Failed'), LATER, to('RolledBack', 'analysis-failed', ROLL_BACK, GATE)),
  variant('passes a gate on an approval with a reason', progressing(GATE, GATED), promote({ reason: 'PM signed off' }), LATER, to('Progressing', 'approved', PUBLISH, GATE + 1)),
  variant('refuses an approval without a reason at a gate', progressing(GATE, GATED), promote(), LATER, refused('REASON_REQUIRED', /needs a reason/)),
  variant('passes a gate of a paused rollout on an approval and resumes it', { ...progressing(GATE, GATED), phase: 'Paused', pausedAt: T0 }, promote({ reason: 'ok' }), LATER, to('Progressing', 'approved', PUBLISH, GATE + 1)),
  variant('rolls back a paused rollout at a gate when the analysis fails', { ...progressing(GATE, GATED), phase: 'Paused', pausedAt: T0 }, tick('Failed'), LATER, to('RolledBack', 'analysis-failed', ROLL_BACK, GATE)),
  // Timed pauses: a wait that moves on by itself.
  variant('waits out a timed pause', progressing(TIMED, GATED), tick('Successful'), at(0.5), noOp),
  variant('moves on after a timed pause even without evidence', progressing(TIMED, GATED), tick('Inconclusive'), at(1), to('Progressing', 'step-advanced', PUBLISH, TIMED + 1)),
  variant('holds a timed pause when the analysis cannot run', progressing(TIMED, GATED), tick('Error'), at(2), noOp),
  variant('rolls back in a timed pause when the analysis fails', progressing(TIMED, GATED), tick('Failed'), at(0.5), to('RolledBack', 'analysis-failed', ROLL_BACK, TIMED)),
  variant('skips a timed pause on a manual promote (an override, not an approval)', progressing(TIMED, GATED), promote(), at(0.5), to('Progressing', 'promote', PUBLISH, TIMED + 1)),
  // Manual approval per step (per-rollout analysis mode).
  variant('holds a manual-mode step when the analysis succeeds', { ...STATE.Progressing, analysisMode: 'manual' }, tick('Successful'), LATER, noOp),
  variant('rolls back a manual-mode step when the analysis fails', { ...STATE.Progressing, analysisMode: 'manual' }, tick('Failed'), BEFORE_MINIMUM, to('RolledBack', 'analysis-failed', ROLL_BACK, IN_20)),
  variant('advances a manual-mode step on a promote, recorded as an approval', { ...STATE.Progressing, analysisMode: 'manual' }, promote(), BEFORE_MINIMUM, to('Progressing', 'approved', PUBLISH, 3)),
  // Progress deadlines (maxDurationSeconds 49h on the 48h 20% step).
  variant('holds past the deadline and says so once', progressing(IN_20, DEADLINED('hold')), tick('Inconclusive'), at(50), to('Progressing', 'deadline-hold', [], IN_20)),
  variant('says nothing more once the deadline hold is recorded', { ...progressing(IN_20, DEADLINED('hold')), deadlineExceededAt: at(49) }, tick('Inconclusive'), at(51), noOp),
  variant('still advances after a deadline hold when the analysis succeeds', { ...progressing(IN_20, DEADLINED('hold')), deadlineExceededAt: at(49) }, tick('Successful'), at(51), to('Progressing', 'step-advanced', PUBLISH, 3)),
  variant('holds by default when a deadline names no policy', progressing(IN_20, DEADLINED(undefined)), tick('Error'), at(50), to('Progressing', 'deadline-hold', [], IN_20)),
  variant('rolls back past the deadline under the rollback policy', progressing(IN_20, DEADLINED('rollback')), tick('Inconclusive'), at(50), to('RolledBack', 'deadline-rollback', ROLL_BACK, IN_20)),
  variant('does not act on a deadline before it', progressing(IN_20, DEADLINED('rollback')), tick('Inconclusive'), at(48.5), noOp),
  variant('does not act on a deadline while paused', { ...progressing(IN_20, DEADLINED('rollback')), phase: 'Paused', pausedAt: at(1) }, tick('Inconclusive'), at(60), noOp),
  variant('rolls back a gate nobody approved by its deadline', progressing(GATE, GATED_WITH_DEADLINE), tick('Successful'), at(25), to('RolledBack', 'deadline-rollback', ROLL_BACK, GATE)),
  variant('advances rather than rolls back when the analysis allows it on the deadline’s tick', progressing(IN_20, DEADLINED('rollback')), tick('Successful'), at(50), to('Progressing', 'step-advanced', PUBLISH, 3)),
  variant('advances rather than holds when the analysis allows it on the deadline’s tick', progressing(IN_20, DEADLINED('hold')), tick('Successful'), at(50), to('Progressing', 'step-advanced', PUBLISH, 3)),
  // The default plan's own deadlines: twice each step's minimum, then roll back.
  variant('rolls back the default plan’s 5% step still undecided after 96 h', progressing(1), tick('Inconclusive'), at(96), to('RolledBack', 'deadline-rollback', ROLL_BACK, 1)),
  variant('holds the default plan’s 5% step undecided before 96 h', progressing(1), tick('Inconclusive'), at(95.9), noOp),
  variant('rolls back the default plan’s shadow step still undecided after 6 days', progressing(0), tick('Error'), at(144), to('RolledBack', 'deadline-rollback', ROLL_BACK, 0)),
  variant('rolls back the default plan’s bake still undecided after 96 h', progressing(BAKE), tick('Inconclusive'), at(96), to('RolledBack', 'deadline-rollback', ROLL_BACK, BAKE)),
  // The default plan's deadline grace: four times the minimum (to 288 h), only while on track.
  variant('holds the 50% step past its deadline while the analysis projects a decision within the grace', progressing(3), onTrack('Inconclusive', 40), at(100), to('Progressing', 'deadline-extended', [], 3)),
  variant('says nothing more while an extended step stays on track', { ...progressing(3), deadlineExceededAt: at(100) }, onTrack('Inconclusive', 2), at(120), noOp),
  variant('still advances an extended step when the analysis allows it', { ...progressing(3), deadlineExceededAt: at(100) }, tick('Successful'), at(120), to('Progressing', 'step-advanced', PUBLISH, 4)),
  variant('rolls back an extended step once its projection runs past the grace', { ...progressing(3), deadlineExceededAt: at(100) }, onTrack('Inconclusive', 170), at(120), to('RolledBack', 'deadline-rollback', ROLL_BACK, 3)),
  variant('rolls back an extended step once the analysis has no projection', { ...progressing(3), deadlineExceededAt: at(100) }, tick('Inconclusive'), at(120), to('RolledBack', 'deadline-rollback', ROLL_BACK, 3)),
  variant('rolls back at the end of the grace whatever the projection', { ...progressing(3), deadlineExceededAt: at(100) }, onTrack('Inconclusive', 0), at(288), to('RolledBack', 'deadline-rollback', ROLL_BACK, 3)),
  variant('does not extend on a projection that comes with an analysis error', progressing(3), onTrack('Error', 1), at(100), to('RolledBack', 'deadline-rollback', ROLL_BACK, 3)),
  variant('ignores a projection under a rollback deadline without a grace', progressing(IN_20, DEADLINED('rollback')), onTrack('Inconclusive', 0.5), at(50), to('RolledBack', 'deadline-rollback', ROLL_BACK, IN_20)),
  variant('ignores a failed analysis once rolled back', STATE.RolledBack, tick('Failed'), LATER, noOp),
  variant('promotes fully from 20%', STATE.Progressing, promote({ full: true }), BEFORE_MINIMUM, to('Healthy', 'promote-full', COMPLETE, BAKE)),
  variant('promotes fully from shadow', progressing(0), promote({ full: true }), T0, to('Healthy', 'promote-full', COMPLETE, BAKE)),
  variant('promotes fully from paused', STATE.Paused, promote({ full: true }), LATER, to('Healthy', 'promote-full', COMPLETE, BAKE)),
  variant('completes when promoted from the last step', progressing(BAKE), promote(), T0, to('Healthy', 'promote', COMPLETE, BAKE)),
  variant('completes when a paused last step is promoted', { ...progressing(BAKE), phase: 'Paused', pausedAt: T0 }, promote(), LATER, to('Healthy', 'promote', COMPLETE, BAKE)),
  variant('refuses to promote fully before start', STATE.Pending, promote({ full: true }), T0, illegal(/has not started/)),
  variant('refuses to promote fully a rolled-back rollout', STATE.RolledBack, promote({ full: true }), T0, illegal(/retry it with a reason/)),
  variant('refuses a rollback without a reason', STATE.Progressing, { type: 'rollback', actor: alice, reason: '' }, LATER, illegal(/non-empty reason/)),
  variant('refuses a rollback with a blank reason', STATE.Paused, { type: 'rollback', actor: alice, reason: '   ' }, LATER, illegal(/non-empty reason/)),
  variant('refuses a retry without a reason', STATE.RolledBack, { type: 'retry', actor: alice, reason: ' ' }, LATER, illegal(/non-empty reason/)),
  variant('pauses without a reason', STATE.Progressing, { type: 'pause', actor: alice }, LATER, to('Paused', 'pause', [], IN_20)),
];

describe(transition.name, () => {
  it('has exactly one phase-event row per phase and event type', () => {
    for (const phase of ROLLOUT_PHASES) {
      for (const type of ROLLOUT_EVENT_TYPES) {
        const rows = PHASE_EVENT_ROWS.filter((r) => r.state.phase === phase && r.event.type === type);
        expect({ phase, type, rows: rows.length }).toEqual({ phase, type, rows: 1 });
      }
    }
    expect(PHASE_EVENT_ROWS).toHaveLength(ROLLOUT_PHASES.length * ROLLOUT_EVENT_TYPES.length);
    expect(PHASE_EVENT_ROWS).toHaveLength(35);
  });

  describe.each([
    ['phase × event', PHASE_EVENT_ROWS],
    ['variants', VARIANT_ROWS],
  ])('%s', (_title, rows) => {
    it.each(rows)('$state.phase + $event.type: $name', ({ state, event, now, expected }) => {
      const before = structuredClone(state);

      if (expected.outcome === 'refused') {
        const error = captureError(() => transition(state, event, now));
        expect(error).toMatchObject({ code: expected.code });
        expect((error as Error).message).toMatch(expected.because);
      } else if (expected.outcome === 'illegal') {
        const error = captureError(() => transition(state, event, now));
        expect(error).toBeInstanceOf(IllegalTransitionError);
        expect(error).toMatchObject({ code: 'ILLEGAL_TRANSITION', phase: state.phase, event: event.type });
        expect((error as Error).message).toMatch(expected.because);
      } else if (expected.outcome === 'no-op') {
        const result = transition(state, event, now);
        expect(result.state).toBe(state);
        expect(result.cause).toBeNull();
        expect(result.effects).toEqual([]);
        expect(result.summary).not.toBe('');
      } else {
        const result = transition(state, event, now);
        expect(result.state.phase).toBe(expected.outcome);
        expect(result.cause).toBe(expected.cause);
        expect(result.effects.map((e) => e.type)).toEqual(expected.effects);
        expect(result.state.stepIndex).toBe(expected.stepIndex);
        expect(result.state.plan).toBe(state.plan);
        expect(result.summary).not.toBe('');
      }
      expect(state).toEqual(before);
    });
  });

  describe('timing', () => {
    it('restarts the step clock when a step is entered', () => {
      const result = transition(STATE.Progressing, EVENT.tick, LATER);

      expect(result.state.stepStartedAt).toEqual(LATER);
      expect(result.state.pausedAt).toBeNull();
    });

    it('does not count paused time toward the step minimum', () => {
      // Paused 10h into the 48h step, resumed 50h later: only 10h of the step have counted.
      const resumed = transition(STATE.Paused, EVENT.resume, at(60)).state;

      expect(resumed.stepStartedAt).toEqual(at(50));
      expect(resumed.pausedAt).toBeNull();
      expect(transition(resumed, tick('Successful'), at(97)).cause).toBeNull();
      expect(transition(resumed, tick('Successful'), at(98)).cause).toBe('step-advanced');
    });

    it('does not shift the clock backwards when resumed at a skewed earlier time', () => {
      const resumed = transition(STATE.Paused, EVENT.resume, at(9)).state;

      expect(resumed.stepStartedAt).toEqual(T0);
    });

    it('records when a pause began', () => {
      expect(transition(STATE.Progressing, EVENT.pause, at(5)).state.pausedAt).toEqual(at(5));
    });
  });

  describe('messages', () => {
    it('keeps the reason of a rollback', () => {
      expect(transition(STATE.Progressing, EVENT.rollback, LATER).state.message).toBe('latency regression');
    });

    it('mentions the analysis detail when analysis fails', () => {
      const result = transition(STATE.Progressing, tick('Failed', 'refusal rate +24%'), LATER);

      expect(result.state.message).toBe('analysis Failed: refusal rate +24%');
    });

    it('keeps the pause reason while paused and clears it on resume', () => {
      const paused = transition(STATE.Progressing, EVENT.pause, LATER).state;

      expect(paused.message).toBe('investigating latency');
      expect(transition(paused, EVENT.resume, LATER).state.message).toBeNull();
    });

    it('clears the rollback reason on retry', () => {
      const retried = transition(STATE.RolledBack, EVENT.retry, LATER).state;

      expect(retried).toMatchObject({ message: null, stepStartedAt: LATER, pausedAt: null });
    });
  });

  describe('summaries', () => {
    // prettier-ignore
    it.each<[string, RolloutState, RolloutEvent, Date, string]>([
      ['an advance', progressing(1), tick('Successful'), at(48), 'Advanced from 5% to 20% after 48h 0m with analysis Successful'],
      ['an advance out of shadow', progressing(0), tick('Successful'), at(72.5), 'Advanced from shadow (100% sampled) to 5% after 72h 30m with analysis Successful'],
      ['a completion', progressing(BAKE), tick('Successful'), at(48), 'Completed from bake at 100% after 48h 0m with analysis Successful; the candidate is now stable'],
      ['a rollback', STATE.Progressing, EVENT.rollback, LATER, 'Rolled back at 20%: latency regression'],
      ['a rollback before start', STATE.Pending, EVENT.rollback, LATER, 'Rolled back before start: latency regression'],
      ['a failed analysis', STATE.Progressing, tick('Failed', 'thumbs-down +18%'), LATER, 'Rolled back at 20%: analysis Failed: thumbs-down +18%'],
      ['an inconclusive hold', STATE.Progressing, tick('Inconclusive'), LATER, 'Holding at 20%: analysis Inconclusive; not enough evidence to advance yet'],
      ['an analysis error hold', STATE.Progressing, tick('Error', 'prometheus timeout'), LATER, 'Holding at 20%: analysis Error: prometheus timeout; the analysis could not run, so nothing moves'],
      ['a minimum-duration hold', STATE.Progressing, tick('Successful'), at(12), 'Holding at 20%: 12h 0m of the 48h 0m minimum elapsed (analysis Successful)'],
      ['a start', STATE.Pending, EVENT.start, T0, 'Started in shadow (100% sampled)'],
      ['a manual promote', STATE.Progressing, promote({ reason: 'exec demo' }), T0, 'Promoted manually from 20% to 50%: exec demo'],
      ['a manual promote of a paused rollout', STATE.Paused, promote(), LATER, 'Promoted manually from 20% to 50% (resuming the paused rollout)'],
      ['a full promote', STATE.Progressing, promote({ full: true }), T0, 'Promoted fully from 20%, skipping the remaining steps; the candidate is now stable'],
      ['a pause', STATE.Progressing, EVENT.pause, T0, 'Paused at 20%: investigating latency'],
      ['a resume', STATE.Paused, EVENT.resume, at(12), 'Resumed at 20% after 2h 0m paused; the pause does not count toward the step'],
      ['a retry', STATE.RolledBack, EVENT.retry, T0, 'Retried after rollback, restarting in shadow (100% sampled): tokenizer config fixed'],
      ['a tick while paused', STATE.Paused, EVENT.tick, T0, 'Paused at 20%: not advancing; the guardrails keep watching (analysis Successful)'],
      ['an ignored tick', STATE.Healthy, EVENT.tick, T0, 'Tick ignored: the rollout is Healthy; only a Progressing or Paused rollout is watched'],
      ['a failed analysis while paused', STATE.Paused, tick('Failed', 'refusal rate +80%'), LATER, 'Rolled back at 20%: analysis Failed: refusal rate +80% (while paused)'],
      ['an approval at a gate', progressing(GATE, GATED), promote({ reason: 'PM signed off' }), LATER, 'Approved by alice from approval gate to 50%: PM signed off'],
      ['an approval in manual mode', { ...STATE.Progressing, analysisMode: 'manual' }, promote(), LATER, 'Approved by alice from 20% to 50%'],
      ['waiting at a gate', progressing(GATE, GATED), tick('Successful'), LATER, 'Waiting at approval gate for an approval (promote with a reason); the guardrails keep watching (analysis Successful)'],
      ['a manual-mode hold', { ...STATE.Progressing, analysisMode: 'manual' }, tick('Successful'), LATER, 'Holding at 20%: analysis Successful; manual approval: waiting for an operator to promote'],
      ['a deadline hold', progressing(IN_20, DEADLINED('hold')), tick('Inconclusive'), at(50), 'Holding: the step at 20% passed its progress deadline of 49h 0m (analysis Inconclusive); it still advances if the analysis allows, or an operator promotes or rolls back'],
      ['a deadline rollback', progressing(IN_20, DEADLINED('rollback')), tick('Inconclusive'), at(50), 'Rolled back: the step at 20% passed its progress deadline of 49h 0m (analysis Inconclusive)'],
      ['a default-plan deadline rollback', progressing(1), tick('Inconclusive', 'refusal rate: 120 of 700 answers'), at(96), 'Rolled back: the step at 5% passed its progress deadline of 96h 0m; the analysis is not on track to decide within its grace (analysis Inconclusive: refusal rate: 120 of 700 answers)'],
      ['a deadline extension', progressing(3), onTrack('Inconclusive', 30), at(100), 'Holding: the step at 50% passed its progress deadline of 96h 0m, but the analysis is on track (projected to decide in ~30h 0m); it rolls back once it is not, or 288h 0m into the step (analysis Inconclusive)'],
      ['a projection past the grace', progressing(3), onTrack('Inconclusive', 200), at(100), 'Rolled back: the step at 50% passed its progress deadline of 96h 0m; the analysis projects ~200h 0m more, past its grace of 192h 0m (analysis Inconclusive)'],
      ['the end of the grace', { ...progressing(3), deadlineExceededAt: at(100) }, onTrack('Inconclusive', 1), at(288), 'Rolled back: the step at 50% passed its progress deadline of 96h 0m; its grace of 192h 0m is over too (analysis Inconclusive)'],
    ])('explains %s in plain words', (_name, state, event, now, summary) => {
      expect(transition(state, event, now).summary).toBe(summary);
    });
  });

  describe('walking a plan', () => {
    const successful = tick('Successful');

    function walk(plan: RolloutPlan): { final: RolloutState; transitions: number; weights: number[] } {
      let result: TransitionResult = transition(initialState(plan), EVENT.start, T0);
      let transitions = 1;
      const weights = [currentWeight(result.state)];
      while (result.state.phase === 'Progressing') {
        const due = nextStepAt(result.state);
        if (due === null || transitions > plan.steps.length + 1) throw new Error('the walk did not converge');
        if (due.getTime() > (result.state.stepStartedAt?.getTime() ?? 0)) {
          expect(transition(result.state, successful, new Date(due.getTime() - 1)).cause).toBeNull();
        }
        result = transition(result.state, successful, due);
        transitions += 1;
        if (result.state.phase === 'Progressing') weights.push(currentWeight(result.state));
      }
      return { final: result.state, transitions, weights };
    }

    it('reaches Healthy through every step of the default plan', () => {
      const { final, transitions, weights } = walk(DEFAULT_PLAN);

      expect(final.phase).toBe('Healthy');
      expect(transitions).toBe(7);
      // 5% of users stay on the baseline at 100% and in the bake (the holdback); everyone once Healthy.
      expect(weights).toEqual([0, 5, 20, 50, 95, 95]);
      expect(currentWeight(final)).toBe(100);
    });

    it('reaches Healthy after exactly one start and one tick per step for any valid plan', () => {
      const random = seededRandom(42);
      for (let n = 0; n < 200; n += 1) {
        const plan = randomPlan(random);
        expect(validatePlan(plan)).toEqual([]);

        const { final, transitions, weights } = walk(plan);

        expect(final.phase).toBe('Healthy');
        expect(transitions).toBe(plan.steps.length + 1);
        expect(weights).toEqual(
          plan.steps.map((s) =>
            s.type === 'shadow'
              ? 0
              : s.type === 'bake' || (s.type === 'setWeight' && s.weight === 100)
                ? 95
                : s.type === 'setWeight'
                  ? s.weight
                  : 100,
          ),
        );
      }
    });
  });
});

describe(initialState.name, () => {
  it('starts Pending before the first step', () => {
    expect(initialState(DEFAULT_PLAN)).toEqual({
      phase: 'Pending',
      stepIndex: -1,
      stepStartedAt: null,
      pausedAt: null,
      plan: DEFAULT_PLAN,
      message: null,
      analysisMode: 'guardrails',
      deadlineExceededAt: null,
    });
  });

  it('takes the rollout’s analysis mode', () => {
    expect(initialState(DEFAULT_PLAN, { analysisMode: 'manual' }).analysisMode).toBe('manual');
  });

  it('refuses an invalid plan', () => {
    expect(captureError(() => initialState({ steps: [] }))).toMatchObject({ code: 'INVALID_PLAN' });
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

/** Deterministic so a failure replays; mulberry32. */
function seededRandom(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomPlan(random: () => number): RolloutPlan {
  const seconds = (): number => Math.floor(random() * 3 * 24 * 3600);
  const steps: PlanStep[] = [];
  if (random() < 0.5)
    steps.push({ type: 'shadow', sampleRate: 1 - random() * 0.99, minDurationSeconds: seconds() });
  let weight = 0;
  while (weight < 100) {
    weight = random() < 0.3 ? 100 : Math.min(100, weight + 1 + Math.floor(random() * 40));
    steps.push({ type: 'setWeight', weight, minDurationSeconds: seconds() });
  }
  if (random() < 0.5) steps.push({ type: 'bake', minDurationSeconds: seconds() });
  return { steps };
}
