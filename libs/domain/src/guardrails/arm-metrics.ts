import { quantileFromHistogram, type ArmStats } from './arm-stats';
import { GUARDRAIL_RATE_SOURCES } from './guardrail-evaluator';

/** One arm's guardrail metrics as plain numbers, for charts and tables (null: nothing to divide by). */
export interface ArmMetrics {
  readonly requests: number;
  readonly refusalRate: number | null;
  readonly thumbsDownRate: number | null;
  readonly errorRate: number | null;
  readonly silentFailureRate: number | null;
  readonly latencyP95Ms: number | null;
  readonly meanOutputTokens: number | null;
}

/** The same numerators and denominators the guardrails use, so a chart never disagrees with a verdict. */
export function armMetrics(arm: ArmStats): ArmMetrics {
  const rate = (metric: keyof typeof GUARDRAIL_RATE_SOURCES): number | null => {
    const source = GUARDRAIL_RATE_SOURCES[metric];
    const n = source.outOf(arm);
    return n > 0 ? source.count(arm) / n : null;
  };
  return {
    requests: arm.requests,
    refusalRate: rate('refusalRate'),
    thumbsDownRate: rate('thumbsDownRate'),
    errorRate: rate('errorRate'),
    silentFailureRate: rate('silentFailureRate'),
    latencyP95Ms: quantileFromHistogram(arm.latency, 0.95),
    meanOutputTokens: arm.outputTokens.n > 0 ? arm.outputTokens.sum / arm.outputTokens.n : null,
  };
}
