import { DomainError, IllegalTransitionError } from '../errors/domain-error';
import { assertValidPlan } from './rollout-plan';
import type {
  AnalysisMode,
  PlanStep,
  RolloutEffect,
  RolloutEvent,
  RolloutEventType,
  RolloutPlan,
  RolloutState,
  TransitionResult,
} from './rollout.types';
import { describeStep, isGate, requireCurrentStep, stepMinimumSeconds } from './traffic-split';

// A Record, not an array, so adding an event type to RolloutEvent fails to compile until it is listed here.
const EVENT_TYPES: Record<RolloutEventType, true> = {
  start: true,
  promote: true,
  pause: true,
  resume: true,
  rollback: true,
  retry: true,
  tick: true,
};
/** Every event type, for exhaustive tests and per-event metrics. */
export const ROLLOUT_EVENT_TYPES = Object.freeze(Object.keys(EVENT_TYPES)) as readonly RolloutEventType[];

type EventOf<T extends RolloutEventType> = Extract<RolloutEvent, { type: T }>;

const NO_EFFECTS: readonly RolloutEffect[] = Object.freeze([]);
const PUBLISH: readonly RolloutEffect[] = Object.freeze([{ type: 'publishSplit' }]);
const ROLL_BACK: readonly RolloutEffect[] = Object.freeze([
  { type: 'publishSplit' },
  { type: 'markCandidateRolledBack' },
]);
const COMPLETE: readonly RolloutEffect[] = Object.freeze([
  { type: 'publishSplit' },
  { type: 'promoteCandidateToStable' },
]);

/** A rollout before `start`. The plan is checked here so the machine can trust it afterwards. */
export function initialState(plan: RolloutPlan, options: { analysisMode?: AnalysisMode } = {}): RolloutState {
  assertValidPlan(plan);
  return {
    phase: 'Pending',
    stepIndex: -1,
    stepStartedAt: null,
    pausedAt: null,
    plan,
    message: null,
    analysisMode: options.analysisMode ?? 'guardrails',
    deadlineExceededAt: null,
  };
}

/**
 * The whole rollout lifecycle as a pure function: the caller persists `state` and then carries out
 * `effects`. Illegal moves throw IllegalTransitionError (a 409); the input state is never mutated.
 */
export function transition(state: RolloutState, event: RolloutEvent, now: Date): TransitionResult {
  switch (event.type) {
    case 'start':
      return start(state, event, now);
    case 'promote':
      return promote(state, event, now);
    case 'pause':
      return pause(state, event, now);
    case 'resume':
      return resume(state, event, now);
    case 'rollback':
      return rollback(state, event);
    case 'retry':
      return retry(state, event, now);
    case 'tick':
      return tick(state, event, now);
  }
}

function start(state: RolloutState, event: EventOf<'start'>, now: Date): TransitionResult {
  if (state.phase !== 'Pending') throw illegal(state, event, notPendingReason(state));
  const next: RolloutState = {
    ...state,
    phase: 'Progressing',
    stepIndex: 0,
    stepStartedAt: now,
    pausedAt: null,
    deadlineExceededAt: null,
  };
  return {
    state: next,
    effects: PUBLISH,
    cause: 'start',
    summary: `Started ${where(requireCurrentStep(next))}`,
  };
}

/**
 * Manual promote skips the step's minimum and its analysis; the caller logs it as an override. At an
 * approval gate, or in a manual-mode rollout, it is the step's approval instead (cause `approved`);
 * a gate wants to know why.
 */
function promote(state: RolloutState, event: EventOf<'promote'>, now: Date): TransitionResult {
  if (state.phase !== 'Progressing' && state.phase !== 'Paused') {
    throw illegal(state, event, notActiveReason(state));
  }
  const from = requireCurrentStep(state);
  const lastIndex = state.plan.steps.length - 1;
  const because = optionalReason(event.reason);
  const note = because === null ? '' : `: ${because}`;
  const gate = isGate(from);

  if (event.full === true) {
    return {
      state: { ...state, phase: 'Healthy', stepIndex: lastIndex, pausedAt: null, message: because },
      effects: COMPLETE,
      cause: 'promote-full',
      summary: `Promoted fully from ${describeStep(from)}, skipping the remaining steps; the candidate is now stable${note}`,
    };
  }
  if (gate && because === null) {
    throw new DomainError(
      'REASON_REQUIRED',
      `approving ${describeStep(from)} needs a reason: say why it may go on`,
      {
        issues: [{ field: 'reason', message: 'required to approve a gate (it goes into the decision log)' }],
      },
    );
  }
  const approval = gate || state.analysisMode === 'manual';
  const cause = approval ? 'approved' : 'promote';
  const who = approval ? `Approved by ${event.actor.name}` : 'Promoted manually';
  if (state.stepIndex >= lastIndex) {
    return {
      state: { ...state, phase: 'Healthy', pausedAt: null, message: because, deadlineExceededAt: null },
      effects: COMPLETE,
      cause,
      summary: `Completed by ${approval ? 'approval' : 'manual promote'} from ${describeStep(from)}; the candidate is now stable${note}`,
    };
  }
  const next = advance(state, now);
  const resumed = state.phase === 'Paused' ? ' (resuming the paused rollout)' : '';
  return {
    state: next,
    effects: entering(next),
    cause,
    summary: `${who} from ${describeStep(from)} to ${describeStep(requireCurrentStep(next))}${resumed}${note}`,
  };
}

function pause(state: RolloutState, event: EventOf<'pause'>, now: Date): TransitionResult {
  if (state.phase !== 'Progressing') {
    throw illegal(state, event, state.phase === 'Paused' ? 'it is already paused' : notActiveReason(state));
  }
  const because = optionalReason(event.reason);
  return {
    // The split stays as it is: pausing stops the step's clock, not its traffic.
    state: { ...state, phase: 'Paused', pausedAt: now, message: because },
    effects: NO_EFFECTS,
    cause: 'pause',
    summary: `Paused ${where(requireCurrentStep(state))}${because === null ? '' : `: ${because}`}`,
  };
}

function resume(state: RolloutState, event: EventOf<'resume'>, now: Date): TransitionResult {
  if (state.phase !== 'Paused') {
    throw illegal(state, event, state.phase === 'Progressing' ? 'it is not paused' : notActiveReason(state));
  }
  const pausedAt = requireDate(state, state.pausedAt, 'pausedAt');
  const stepStartedAt = requireDate(state, state.stepStartedAt, 'stepStartedAt');
  // Shift the step's start so time spent paused does not count toward its minimum duration.
  const pausedMs = Math.max(0, now.getTime() - pausedAt.getTime());
  return {
    state: {
      ...state,
      phase: 'Progressing',
      stepStartedAt: new Date(stepStartedAt.getTime() + pausedMs),
      pausedAt: null,
      message: null,
    },
    effects: NO_EFFECTS,
    cause: 'resume',
    summary: `Resumed ${where(requireCurrentStep(state))} after ${formatDuration(pausedMs)} paused; the pause does not count toward the step`,
  };
}

function rollback(state: RolloutState, event: EventOf<'rollback'>): TransitionResult {
  if (state.phase === 'RolledBack') throw illegal(state, event, 'it is already rolled back');
  if (state.phase === 'Healthy') {
    throw illegal(state, event, 'it has finished; start a new rollout to go back to the previous version');
  }
  const because = requireReason(state, event, event.reason);
  return rolledBack(state, because, 'rollback');
}

// Retry is the only way back from RolledBack, and it must say why: a rolled-back version is never
// promoted again silently.
function retry(state: RolloutState, event: EventOf<'retry'>, now: Date): TransitionResult {
  if (state.phase !== 'RolledBack') throw illegal(state, event, 'only a rolled-back rollout can be retried');
  const because = requireReason(state, event, event.reason);
  const next: RolloutState = {
    ...state,
    phase: 'Progressing',
    stepIndex: 0,
    stepStartedAt: now,
    pausedAt: null,
    message: null,
    deadlineExceededAt: null,
  };
  return {
    state: next,
    effects: PUBLISH,
    cause: 'retry',
    summary: `Retried after rollback, restarting ${where(requireCurrentStep(next))}: ${because}`,
  };
}

/**
 * The scheduler ticks every rollout that serves the candidate. Paused means "do not advance", never
 * "do not protect": a Failed verdict rolls back in any phase that serves the candidate, at a gate,
 * in a manual-mode rollout, and before the step's minimum.
 */
function tick(state: RolloutState, event: EventOf<'tick'>, now: Date): TransitionResult {
  if (state.phase !== 'Progressing' && state.phase !== 'Paused') {
    return unchanged(
      state,
      `Tick ignored: the rollout is ${state.phase}; only a Progressing or Paused rollout is watched`,
    );
  }
  const step = requireCurrentStep(state);
  const verdict = event.verdict;
  const detail = optionalReason(event.detail);
  const verdictText = `analysis ${verdict}${detail === null ? '' : `: ${detail}`}`;

  // A failure acts at once: waiting out the step's minimum (or a pause) would keep users on a bad candidate.
  if (verdict === 'Failed') {
    const whilePaused = state.phase === 'Paused' ? ' (while paused)' : '';
    return rolledBack(state, `${verdictText}${whilePaused}`, 'analysis-failed');
  }
  if (state.phase === 'Paused') {
    return unchanged(
      state,
      `Paused ${where(step)}: not advancing; the guardrails keep watching (${verdictText})`,
    );
  }

  const stepStartedAt = requireDate(state, state.stepStartedAt, 'stepStartedAt');
  const elapsedMs = now.getTime() - stepStartedAt.getTime();
  const holding = holdReason(state, step, verdict, verdictText, elapsedMs);
  // The deadline acts on a step that cannot move on: one whose analysis allows it on the deadline's
  // own tick advances (the guardrail simulations count it so).
  if (holding !== null) {
    const late = pastDeadline(state, step, event, verdictText, elapsedMs, now);
    return late ?? unchanged(state, withGraceNote(state, step, event, holding, elapsedMs));
  }

  const after = `after ${formatDuration(elapsedMs)} with analysis ${verdict}`;
  if (state.stepIndex >= state.plan.steps.length - 1) {
    return {
      state: { ...state, phase: 'Healthy', message: null, deadlineExceededAt: null },
      effects: COMPLETE,
      cause: 'completed',
      summary: `Completed from ${describeStep(step)} ${after}; the candidate is now stable`,
    };
  }
  const next = advance(state, now);
  return {
    state: next,
    effects: entering(next),
    cause: 'step-advanced',
    summary: `Advanced from ${describeStep(step)} to ${describeStep(requireCurrentStep(next))} ${after}`,
  };
}

/** Why the current step does not advance on this tick, or null when it does. */
function holdReason(
  state: RolloutState,
  step: PlanStep,
  verdict: EventOf<'tick'>['verdict'],
  verdictText: string,
  elapsedMs: number,
): string | null {
  if (isGate(step)) {
    return `Waiting ${where(step)} for an approval (promote with a reason); the guardrails keep watching (${verdictText})`;
  }
  const minimumMs = (stepMinimumSeconds(step) ?? 0) * 1000;
  if (elapsedMs < minimumMs) {
    return `Holding ${where(step)}: ${formatDuration(elapsedMs)} of the ${formatDuration(minimumMs)} minimum elapsed (${verdictText})`;
  }
  if (verdict === 'Error') {
    return `Holding ${where(step)}: ${verdictText}; the analysis could not run, so nothing moves`;
  }
  // A timed pause is a wait, not a judgement: it moves on once over unless the guardrails object.
  if (verdict === 'Inconclusive' && step.type !== 'pause') {
    return `Holding ${where(step)}: ${verdictText}; not enough evidence to advance yet`;
  }
  if (state.analysisMode === 'manual' && step.type !== 'pause') {
    return `Holding ${where(step)}: ${verdictText}; manual approval: waiting for an operator to promote`;
  }
  return null;
}

/**
 * A held step past its progress deadline: rolled back under the rollback policy (unless its analysis
 * is on track within the step's grace, see `graceOf`), or held and said so once under `hold`.
 * Null before the deadline, without one, while the grace holds it, or once a hold is recorded.
 */
function pastDeadline(
  state: RolloutState,
  step: PlanStep,
  event: EventOf<'tick'>,
  verdictText: string,
  elapsedMs: number,
  now: Date,
): TransitionResult | null {
  const deadline = step.maxDurationSeconds;
  if (deadline === undefined || elapsedMs < deadline * 1000) return null;
  const passed = `${where(step)} passed its progress deadline of ${formatDuration(deadline * 1000)}`;
  if ((step.onDeadline ?? 'hold') === 'rollback') {
    const grace = graceOf(step, event, elapsedMs);
    if (grace.onTrack) {
      if (state.deadlineExceededAt !== null) return null;
      return {
        state: { ...state, deadlineExceededAt: now },
        effects: NO_EFFECTS,
        cause: 'deadline-extended',
        summary: `Holding: the step ${passed}, but the analysis is on track (${grace.text}); it rolls back once it is not, or ${formatDuration(grace.endMs)} into the step (${verdictText})`,
      };
    }
    const because = grace.text === null ? '' : `; ${grace.text}`;
    return {
      ...rolledBack(state, `the step ${passed}${because} (${verdictText})`, 'deadline-rollback'),
      summary: `Rolled back: the step ${passed}${because} (${verdictText})`,
    };
  }
  if (state.deadlineExceededAt !== null) return null;
  return {
    state: { ...state, deadlineExceededAt: now },
    effects: NO_EFFECTS,
    cause: 'deadline-hold',
    summary: `Holding: the step ${passed} (${verdictText}); it still advances if the analysis allows, or an operator promotes or rolls back`,
  };
}

interface Grace {
  /** Whether the step may hold on past its rollback deadline on this tick. */
  readonly onTrack: boolean;
  /** When the grace ends, from the step's start. */
  readonly endMs: number;
  /** Why, for the log; null for a step without a grace. */
  readonly text: string | null;
}

/**
 * A rollback deadline's grace (`deadlineGraceSeconds`): the step holds on while the analysis projects
 * that every undecided guardrail, each within its limit, decides before the grace ends. The projection
 * is the analysis's (`secondsToDecide`); without one, or past the grace, the deadline acts.
 */
function graceOf(step: PlanStep, event: EventOf<'tick'>, elapsedMs: number): Grace {
  const deadlineMs = (step.maxDurationSeconds ?? 0) * 1000;
  const graceMs = (step.deadlineGraceSeconds ?? 0) * 1000;
  const endMs = deadlineMs + graceMs;
  if (graceMs <= 0) return { onTrack: false, endMs, text: null };
  if (elapsedMs >= endMs)
    return { onTrack: false, endMs, text: `its grace of ${formatDuration(graceMs)} is over too` };
  const projected = event.secondsToDecide;
  if (event.verdict !== 'Inconclusive' || projected === undefined || !Number.isFinite(projected)) {
    return { onTrack: false, endMs, text: 'the analysis is not on track to decide within its grace' };
  }
  const decidesAtMs = elapsedMs + projected * 1000;
  if (decidesAtMs > endMs)
    return {
      onTrack: false,
      endMs,
      text: `the analysis projects ~${formatDuration(projected * 1000)} more, past its grace of ${formatDuration(graceMs)}`,
    };
  return { onTrack: true, endMs, text: `projected to decide in ~${formatDuration(projected * 1000)}` };
}

/** A hold inside a deadline's grace says so, with the projection that keeps it. */
function withGraceNote(
  state: RolloutState,
  step: PlanStep,
  event: EventOf<'tick'>,
  holding: string,
  elapsedMs: number,
): string {
  if (state.deadlineExceededAt === null || step.onDeadline !== 'rollback') return holding;
  const grace = graceOf(step, event, elapsedMs);
  return grace.onTrack ? `${holding}; past its progress deadline, on track: ${grace.text}` : holding;
}

/**
 * Entering a pause keeps the split as it is, so nothing is published and the step it pauses keeps its
 * evidence window (the guardrails judge the gate on what the held split has shown so far).
 */
function entering(next: RolloutState): readonly RolloutEffect[] {
  return requireCurrentStep(next).type === 'pause' ? NO_EFFECTS : PUBLISH;
}

function advance(state: RolloutState, now: Date): RolloutState {
  return {
    ...state,
    phase: 'Progressing',
    stepIndex: state.stepIndex + 1,
    stepStartedAt: now,
    pausedAt: null,
    message: null,
    deadlineExceededAt: null,
  };
}

function rolledBack(
  state: RolloutState,
  because: string,
  cause: 'rollback' | 'analysis-failed' | 'deadline-rollback',
): TransitionResult {
  const position = state.phase === 'Pending' ? 'before start' : where(requireCurrentStep(state));
  return {
    state: { ...state, phase: 'RolledBack', pausedAt: null, message: because },
    effects: ROLL_BACK,
    cause,
    summary: `Rolled back ${position}: ${because}`,
  };
}

function unchanged(state: RolloutState, summary: string): TransitionResult {
  return { state, effects: NO_EFFECTS, cause: null, summary };
}

function illegal(state: RolloutState, event: RolloutEvent, reason: string): IllegalTransitionError {
  return new IllegalTransitionError(state.phase, event.type, reason);
}

function notPendingReason(state: RolloutState): string {
  return state.phase === 'RolledBack'
    ? 'it was rolled back; retry it with a reason to start again'
    : 'it has already started';
}

function notActiveReason(state: RolloutState): string {
  switch (state.phase) {
    case 'Pending':
      return 'it has not started yet';
    case 'Healthy':
      return 'it has already completed';
    case 'RolledBack':
      return 'it was rolled back; retry it with a reason to start again';
    case 'Progressing':
    case 'Paused':
      return `it is ${state.phase}`;
  }
}

// Rollback and retry change what users get and are audited, so a blank reason is refused like any other
// illegal move (a 409 carrying the phase and event) rather than stored as an empty explanation.
function requireReason(state: RolloutState, event: RolloutEvent, reason: unknown): string {
  const because = optionalReason(reason);
  if (because === null) throw illegal(state, event, 'a non-empty reason is required');
  return because;
}

function optionalReason(reason: unknown): string | null {
  return typeof reason === 'string' && reason.trim() !== '' ? reason.trim() : null;
}

function requireDate(state: RolloutState, value: Date | null, field: string): Date {
  if (value === null) throw new Error(`corrupt rollout state: ${state.phase} without ${field}`);
  return value;
}

function where(step: PlanStep): string {
  return step.type === 'setWeight' || step.type === 'pause'
    ? `at ${describeStep(step)}`
    : `in ${describeStep(step)}`;
}

/** "48h 0m"; seconds only below a minute, where compressed demo plans live. */
function formatDuration(ms: number): string {
  const totalSeconds = Math.max(0, Math.floor(ms / 1000));
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)}h ${totalMinutes % 60}m`;
}
