import { deadlineAt, deriveSplit, describeStep, isGate, nextStepAt, type PlanStep } from '@aviary/domain';
import { rowToState } from './rollout.mapper';
import { type PublicationState } from '../flags/flag-reconciler.service';
import { type RolloutRecord } from './rollout.repository';
import { type RolloutEventRecord } from './rollout-event.repository';

export function presentRollout(r: RolloutRecord & { readonly publication?: PublicationState | null }) {
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
      /** An approval gate: it moves on only when an operator promotes (with a reason). */
      gate: isGate(current),
      /** The step's progress deadline (`maxDurationSeconds`), its policy, and when it passed (hold). */
      deadline: current?.maxDurationSeconds
        ? {
            at: deadlineAt(state),
            policy: current.onDeadline ?? 'hold',
            graceSeconds: current.deadlineGraceSeconds ?? 0,
            exceededAt: state.deadlineExceededAt,
          }
        : null,
    },
    analysis: state.analysisMode,
    /** After completion: the new stable version compared with its own first period. */
    watch: r.watchStatus ? { status: r.watchStatus, startedAt: r.watchStartedAt, until: r.watchUntil } : null,
    split: deriveSplit(state),
    plan: state.plan,
    guardrails: r.guardrails,
    shadowGate: r.shadowGate,
    message: r.message,
    // Only on answers to actions that changed the split: has the flag source got it yet?
    ...(r.publication !== undefined ? { publication: r.publication } : {}),
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
