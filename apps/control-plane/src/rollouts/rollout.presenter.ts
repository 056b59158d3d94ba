import { deriveSplit, describeStep, nextStepAt, type PlanStep } from '@aviary/domain';
import { rowToState } from './rollout.mapper';
import { type RolloutRecord } from './rollout.repository';
import { type RolloutEventRecord } from './rollout-event.repository';

export function presentRollout(r: RolloutRecord) {
  const state = rowToState(r);
  const steps = state.plan.steps;
  const current: PlanStep | null = state.stepIndex >= 0 ? (steps[state.stepIndex] ?? null) : null;
  const next = nextStepAt(state);
  return {
    id: r.id,
    model: r.model,
    baseline: r.baselineVersion,
    candidate: r.candidateVersion,
    phase: r.phase,
    step: {
      index: state.stepIndex,
      total: steps.length,
      current,
      description: current ? describeStep(current) : null,
      startedAt: state.stepStartedAt,
      minDurationElapsesAt: next,
    },
    split: deriveSplit(state),
    plan: state.plan,
    guardrails: r.guardrails,
    shadowGate: r.shadowGate,
    message: r.message,
    version: r.version,
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export function presentEvent(e: RolloutEventRecord) {
  return {
    id: e.id.toString(),
    type: e.type,
    fromPhase: e.fromPhase,
    toPhase: e.toPhase,
    stepIndex: e.stepIndex,
    actor: e.actor,
    automatic: e.automatic,
    reason: e.reason,
    message: e.message,
    evidence: e.evidence,
    at: e.createdAt,
  };
}
