import { type AnalysisMode, type RolloutPhase, type RolloutPlan, type RolloutState } from '@aviary/domain';

/** The columns of a rollouts row that make up the domain state. */
export interface RolloutStateColumns {
  readonly phase: RolloutPhase;
  readonly stepIndex: number;
  readonly stepStartedAt: Date | null;
  readonly pausedAt: Date | null;
  readonly plan: unknown;
  readonly message: string | null;
  readonly analysisMode: AnalysisMode;
  readonly deadlineExceededAt: Date | null;
}

export function rowToState(row: RolloutStateColumns): RolloutState {
  return {
    phase: row.phase,
    stepIndex: row.stepIndex,
    stepStartedAt: row.stepStartedAt,
    pausedAt: row.pausedAt,
    plan: row.plan as RolloutPlan,
    message: row.message,
    analysisMode: row.analysisMode,
    deadlineExceededAt: row.deadlineExceededAt,
  };
}
