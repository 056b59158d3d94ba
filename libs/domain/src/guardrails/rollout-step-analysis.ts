import { evaluateGuardrails } from './guardrail-evaluator';
import { type GuardrailReport } from './guardrail-report';
import { type GuardrailSettings } from './guardrail-settings';
import { type ArmEvidence, type EvidenceStratum } from './clustered-evidence';
import { mergeArmStats, emptyArmStats } from './arm-stats';
import {
  effectiveFeedbackWindowSeconds,
  evaluateRolloutGuardrails,
  stepRequirement,
  type RolloutGuardrailOptions,
  type RolloutGuardrailReport,
} from './rollout-guardrails';
import type { RolloutPlan } from '../rollout/rollout.types';
import { effectiveStep } from '../rollout/traffic-split';

/**
 * The window rules of a rollout step, in one place for the control plane (GuardrailAnalysis) and the
 * simulations: which evidence a step is judged on and what it must show.
 */
export interface RolloutStepInput {
  /** The rollout's guardrails, resolved (defaults merged). */
  readonly settings: GuardrailSettings;
  readonly plan: RolloutPlan;
  readonly stepIndex: number;
  /** Every stratum of the current attempt, with immature ratings marked (see `feedbackWindowSeconds`). */
  readonly strata: readonly EvidenceStratum[];
  /** The revision the current step started with. */
  readonly stepFromRevision: number;
  readonly stepAgeSeconds: number;
}

/** Nobody rates answers they never saw: thumbs-down does not apply to shadow copies. */
export function settingsForRole(
  settings: GuardrailSettings,
  role: 'candidate' | 'shadow',
): GuardrailSettings {
  if (role !== 'shadow') return settings;
  return { ...settings, thumbsDownRate: { ...settings.thumbsDownRate, enabled: false } };
}

/** Who the candidate serves at a step; a pause keeps the split of the step before it (a gate after shadow still compares the shadow). */
export function roleOfStep(plan: RolloutPlan, stepIndex: number): 'candidate' | 'shadow' {
  return effectiveStep(plan, stepIndex)?.type === 'shadow' ? 'shadow' : 'candidate';
}

/**
 * The settings a step is judged with: thumbs-down off in a shadow step, and the feedback window
 * capped at the step's minimum duration (effectiveFeedbackWindowSeconds). Callers mark the
 * immature ratings with this window.
 */
export function settingsForStep(
  settings: GuardrailSettings,
  plan: RolloutPlan,
  stepIndex: number,
): GuardrailSettings {
  const own = settingsForRole(settings, roleOfStep(plan, stepIndex));
  const window = effectiveFeedbackWindowSeconds(settings, plan, stepIndex);
  return { ...own, thumbsDownRate: { ...own.thumbsDownRate, feedbackWindowSeconds: window } };
}

export function judgeRolloutStep(
  input: RolloutStepInput,
  options: RolloutGuardrailOptions = {},
): RolloutGuardrailReport {
  const candidateRole = roleOfStep(input.plan, input.stepIndex);
  return evaluateRolloutGuardrails(
    settingsForStep(input.settings, input.plan, input.stepIndex),
    {
      strata: input.strata,
      candidateRole,
      stepFromRevision: input.stepFromRevision,
      requirement: stepRequirement(input.plan, input.stepIndex),
      stepAgeSeconds: input.stepAgeSeconds,
    },
    options,
  );
}

/**
 * How steps were judged before the rollout-wide statistics (kept for the before/after simulations):
 * the current step's revisions only, independent requests, point-estimate Successful, and when the
 * step sends the baseline nobody (100%, bake) the baseline's figures from the whole rollout.
 */
export function judgeStepLegacy(
  input: RolloutStepInput,
): GuardrailReport & { baselineSource: 'step' | 'rollout' } {
  const candidateRole = roleOfStep(input.plan, input.stepIndex);
  const settings = settingsForRole(input.settings, candidateRole);
  const current = input.strata.filter((s) => s.revision >= input.stepFromRevision);
  const sum = (arms: readonly ArmEvidence[]) =>
    arms.reduce((a, b) => mergeArmStats(a, b.totals), emptyArmStats());
  let baseline = sum(current.map((s) => s.baseline));
  let baselineSource: 'step' | 'rollout' = 'step';
  const minSamples = Math.min(...Object.values(settings).map((s) => s.minSamples));
  if (baseline.requests < minSamples) {
    const earlier = sum(input.strata.map((s) => s.baseline));
    if (earlier.requests > baseline.requests) {
      baseline = earlier;
      baselineSource = 'rollout';
    }
  }
  const candidate = sum(current.filter((s) => s.candidateRole === candidateRole).map((s) => s.candidate));
  return { ...evaluateGuardrails(settings, baseline, candidate), baselineSource };
}
