import type { AnalysisVerdict } from '../rollout/rollout.types';

export interface StepAnalysisRequest {
  readonly rolloutId: string;
  readonly modelId: string;
  readonly stepIndex: number;
  readonly stepStartedAt: Date;
  readonly baselineVersionId: string;
  readonly candidateVersionId: string;
}

export interface StepAnalysisResult {
  readonly verdict: AnalysisVerdict;
  /** Plain words for the decision log ("refusal rate 9.8% vs 4.1%, +139%"). */
  readonly detail: string;
  /** Structured evidence stored with the decision (per-guardrail values, intervals, sample sizes). */
  readonly evidence?: Readonly<Record<string, unknown>>;
  /**
   * With Inconclusive: how long until the analysis would decide at the step's pace, when it is on
   * track (projectedSecondsToDecide); a progress deadline's grace holds the step only on this.
   */
  readonly secondsToDecide?: number;
}

/**
 * Where a step's verdict comes from. The analyzer implements it with guardrail statistics; until a
 * rollout has an analyzer, simpler policies (time-only, manual) stand in, and say so in the log.
 */
export interface StepAnalysis {
  readonly name: string;
  /**
   * Ask on every tick, not only when a step's minimum duration is over: a Failed verdict then rolls
   * back at once. For analyses whose evidence accrues during the step (guardrail statistics).
   */
  readonly continuous?: boolean;
  evaluate(request: StepAnalysisRequest): Promise<StepAnalysisResult>;
}

export const STEP_ANALYSIS = Symbol('STEP_ANALYSIS');
