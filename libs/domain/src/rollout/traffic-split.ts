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
});
const CANDIDATE_ONLY: TrafficSplit = Object.freeze({
  candidateWeight: 100,
  shadowSampleRate: null,
  baselineWarm: false,
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
      const step = requireCurrentStep(state);
      switch (step.type) {
        case 'shadow':
          return { candidateWeight: 0, shadowSampleRate: step.sampleRate, baselineWarm: true };
        case 'setWeight':
          return {
            candidateWeight: step.weight >= 100 ? 100 - holdbackPercent(state.plan) : step.weight,
            shadowSampleRate: null,
            baselineWarm: true,
          };
        case 'bake':
          return {
            candidateWeight: 100 - holdbackPercent(state.plan),
            shadowSampleRate: null,
            baselineWarm: true,
          };
      }
    }
  }
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
  const step = requireCurrentStep(state);
  return new Date(state.stepStartedAt.getTime() + step.minDurationSeconds * 1000);
}

/** Short operator-facing label: "shadow (50% sampled)", "5%", "bake at 100%". */
export function describeStep(step: PlanStep): string {
  switch (step.type) {
    case 'shadow':
      // toFixed drops float noise such as 0.07 * 100 = 7.000000000000001.
      return `shadow (${Number((step.sampleRate * 100).toFixed(2))}% sampled)`;
    case 'setWeight':
      return `${step.weight}%`;
    case 'bake':
      return 'bake at 100%';
  }
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
