import { type ArmStats } from '../guardrails/arm-stats';
import { formatUsd } from '../guardrails/guardrail-format';

/** What one arm's answers cost, in USD (see README "Cost" for the definitions). */
export interface ArmCost {
  /** The cost of every answered request with a price. */
  readonly totalUsd: number;
  /** Answered requests with a known cost (the version had prices when they were served). */
  readonly pricedRequests: number;
  /** Mean cost of an answered request: what the cost guardrail compares. */
  readonly perRequestUsd: number | null;
  /**
   * What one useful answer costs (not an error, a refusal, an empty or broken answer): the cost per
   * request times answered requests per useful answer, so the refusals and empty answers are paid
   * for by the answers that were worth having.
   */
  readonly perAnswerUsd: number | null;
  readonly usefulAnswers: number;
}

export interface CostComparison {
  readonly baseline: ArmCost;
  readonly candidate: ArmCost;
  /** (candidate − baseline) / baseline; null when either is unknown or the baseline is free. */
  readonly relativeDifference: {
    readonly perRequest: number | null;
    readonly perAnswer: number | null;
  };
  /** One line in words: "cost per answer: $0.0021 vs $0.0018 (+17 %)". */
  readonly sentence: string;
}

export function armCost(arm: ArmStats): ArmCost {
  const { n, sum } = arm.cost;
  const perRequestUsd = n > 0 ? sum / n : null;
  const answered = arm.requests - arm.errors;
  return {
    totalUsd: sum,
    pricedRequests: n,
    perRequestUsd,
    perAnswerUsd:
      perRequestUsd !== null && arm.usefulAnswers > 0 ? (perRequestUsd * answered) / arm.usefulAnswers : null,
    usefulAnswers: arm.usefulAnswers,
  };
}

const relative = (c: number | null, b: number | null): number | null =>
  c === null || b === null || b <= 0 ? null : (c - b) / b;

/** The candidate's cost against the baseline's, with the sentence the status page shows. */
export function compareCost(baseline: ArmStats, candidate: ArmStats): CostComparison {
  const b = armCost(baseline);
  const c = armCost(candidate);
  const perAnswer = relative(c.perAnswerUsd, b.perAnswerUsd);
  return {
    baseline: b,
    candidate: c,
    relativeDifference: { perRequest: relative(c.perRequestUsd, b.perRequestUsd), perAnswer },
    sentence: costSentence(b, c, perAnswer),
  };
}

function costSentence(b: ArmCost, c: ArmCost, perAnswer: number | null): string {
  if (b.pricedRequests === 0 && c.pricedRequests === 0)
    return 'cost: unknown (no prices on these versions, or no priced answers yet)';
  const side = (a: ArmCost, who: string): string =>
    a.perAnswerUsd !== null
      ? formatUsd(a.perAnswerUsd)
      : a.pricedRequests === 0
        ? `unknown (${who} has no prices)`
        : 'no useful answers yet';
  const diff = perAnswer === null ? '' : ` (${signedPercent(perAnswer)})`;
  return `cost per answer: ${side(c, 'the candidate')} vs ${side(b, 'the baseline')}${diff}`;
}

/** 0.1666 -> "+17 %", -0.05 -> "−5 %". */
function signedPercent(r: number): string {
  const p = Math.round(r * 100);
  return `${p > 0 ? '+' : p < 0 ? '−' : '±'}${Math.abs(p)} %`;
}
