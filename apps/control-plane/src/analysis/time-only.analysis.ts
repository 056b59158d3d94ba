import { type StepAnalysis, type StepAnalysisResult } from '@aviary/domain';

/** What /readyz, the status page and each rollout's decision log say while AVIARY_ANALYSIS=time-only. */
export const TIME_ONLY_NOTICE =
  'automatic analysis is off (AVIARY_ANALYSIS=time-only): rollouts advance on time only, nothing rolls back by itself';

/**
 * Stand-in until the analyzer judges steps: every step is Successful once its minimum duration has
 * passed (the state machine checks the duration). The decision log says so, so nobody mistakes a
 * timer for evidence.
 */
export class TimeOnlyAnalysis implements StepAnalysis {
  readonly name = 'time-only';

  evaluate(): Promise<StepAnalysisResult> {
    return Promise.resolve({
      verdict: 'Successful',
      detail: 'no guardrail analysis configured (AVIARY_ANALYSIS=time-only): advancing on time alone',
    });
  }
}
