import { describeCohort } from './cohort';
import type { PlanStep, RolloutPlan, RolloutState, TrafficSplit } from './rollout.types';

/** Users kept on the baseline at 100% and in the bake unless the plan says otherwise. */
export const DEFAULT_HOLDBACK_PERCENT = 5;

/** The plan's holdback at 100% and in the bake, in percent of users. */
export function holdbackPercent(plan: RolloutPlan): number {
  return plan.holdbackPercent ?? DEFAULT_HOLDBACK_PERCENT;
}

const BASELINE_ONLY: TrafficSplit = Object.freeze({
  candidateWeight: 0,
  shadowSampleRate: null,
  baselineWarm: true,
  cohort: null,
});
const CANDIDATE_ONLY: TrafficSplit = Object.freeze({
  candidateWeight: 100,
  shadowSampleRate: null,
  baselineWarm: false,
  cohort: null,
});

/**
 * Who serves what in a given state. The split is derived, never stored, so the flag source can always be
 * re-published from the rollout alone.
 */
export function deriveSplit(state: RolloutState): TrafficSplit {
  switch (state.phase) {
    case 'Pending':
    case 'RolledBack':
      return BASELINE_ONLY;
    case 'Healthy':
      return CANDIDATE_ONLY;
    case 'Progressing':
    case 'Paused': {
      // A paused rollout keeps serving its step's split: pausing stops the clock, not the traffic.
      requireCurrentStep(state);
      const step = effectiveStep(state.plan, state.stepIndex);
      if (step === null) return BASELINE_ONLY;
      switch (step.type) {
        case 'shadow':
          return {
            candidateWeight: 0,
            shadowSampleRate: step.sampleRate,
            baselineWarm: true,
            cohort: null,
          };
        case 'setWeight':
          return {
            candidateWeight: step.weight >= 100 ? 100 - holdbackPercent(state.plan) : step.weight,
            shadowSampleRate: null,
            baselineWarm: true,
            cohort: step.cohort ?? null,
          };
        case 'bake':
          return {
            candidateWeight: 100 - holdbackPercent(state.plan),
            shadowSampleRate: null,
            baselineWarm: true,
            cohort: null,
          };
      }
    }
  }
}

/**
 * The step whose split is served at `index`: the step itself, or for a pause the nearest step before
 * it that is not a pause (null when a plan opens with a pause: nobody gets the candidate yet).
 */
export function effectiveStep(plan: RolloutPlan, index: number): Exclude<PlanStep, { type: 'pause' }> | null {
  for (let i = index; i >= 0; i--) {
    const step = plan.steps[i];
    if (step && step.type !== 'pause') return step;
  }
  return null;
}

/**
 * What the analysis says about a step that serves a cohort (its own or, in a pause, the step's before
 * it): the cohort's requests are not a random sample, so they are not counted; null without one.
 */
export function cohortAnalysisNote(plan: RolloutPlan, index: number): string | null {
  const step = effectiveStep(plan, index);
  if (step?.type !== 'setWeight' || !step.cohort) return null;
  const who = describeCohort(step.cohort);
  return step.weight > 0
    ? `cohort (${who}) served first and left out of the comparison: not a random sample; the guardrails judge the random ${step.weight}% only`
    : `cohort (${who}) only: its requests are not a random sample and are not counted, so the guardrails have no evidence here; promote when the cohort is satisfied`;
}

/** An approval gate: a pause without a duration, which only a promote moves past. */
export function isGate(step: PlanStep | null | undefined): boolean {
  return step?.type === 'pause' && step.durationSeconds === undefined;
}

/** The time a step takes at least (a timed pause's duration), or null for a gate (it waits for approval). */
export function stepMinimumSeconds(step: PlanStep): number | null {
  if (step.type === 'pause') return step.durationSeconds ?? null;
  return step.minDurationSeconds;
}

/** When the current step passes its progress deadline, or null without one (or while not progressing). */
export function deadlineAt(state: RolloutState): Date | null {
  if (state.phase !== 'Progressing' || state.stepStartedAt === null) return null;
  const max = currentStep(state)?.maxDurationSeconds;
  return max === undefined ? null : new Date(state.stepStartedAt.getTime() + max * 1000);
}

/** Percentage of users the candidate serves in this state. */
export function currentWeight(state: RolloutState): number {
  return deriveSplit(state).candidateWeight;
}

/**
 * When the current step's minimum duration is over, or null when no clock is running (not started,
 * paused, finished). The step still needs a Successful analysis to advance at that time.
 */
export function nextStepAt(state: RolloutState): Date | null {
  if (state.phase !== 'Progressing' || state.stepStartedAt === null) return null;
  const minimum = stepMinimumSeconds(requireCurrentStep(state));
  return minimum === null ? null : new Date(state.stepStartedAt.getTime() + minimum * 1000);
}

/** Short operator-facing label: "shadow (50% sampled)", "5%", "bake at 100%". */
export function describeStep(step: PlanStep): string {
  switch (step.type) {
    case 'shadow':
      // toFixed drops float noise such as 0.07 * 100 = 7.000000000000001.
      return `shadow (${Number((step.sampleRate * 100).toFixed(2))}% sampled)`;
    case 'setWeight':
      return step.cohort
        ? `cohort (${describeCohort(step.cohort)})${step.weight > 0 ? ` + ${step.weight}%` : ''}`
        : `${step.weight}%`;
    case 'bake':
      return 'bake at 100%';
    case 'pause':
      return step.durationSeconds === undefined
        ? 'approval gate'
        : `pause ${formatSeconds(step.durationSeconds)}`;
  }
}

/** "90s", "15m", "2h", "2h 30m", "3d": short, for step labels. */
export function formatSeconds(seconds: number): string {
  if (seconds < 90 && seconds % 60 !== 0) return `${seconds}s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (rest === 0 && hours % 24 === 0) return `${hours / 24}d`;
  return rest === 0 ? `${hours}h` : `${hours}h ${rest}m`;
}

/** The step the rollout is on; null before start. Finished and rolled-back rollouts keep their last step. */
export function currentStep(state: RolloutState): PlanStep | null {
  return state.plan.steps[state.stepIndex] ?? null;
}

/** The step of a started rollout. A missing step means the stored state is corrupt, which is a bug. */
export function requireCurrentStep(state: RolloutState): PlanStep {
  const step = currentStep(state);
  if (step === null) {
    throw new Error(
      `corrupt rollout state: ${state.phase} at step ${state.stepIndex} of a ${state.plan.steps.length}-step plan`,
    );
  }
  return step;
}
