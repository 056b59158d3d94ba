import { emptyArmStats } from './arm-stats';
import {
  CLUSTER_FIELD,
  CLUSTER_FIELD_COUNT,
  EVIDENCE_CLUSTERS,
  emptyClusters,
  type ArmEvidence,
  type EvidenceStratum,
} from './clustered-evidence';
import { formatUsd } from './guardrail-format';
import { DEFAULT_GUARDRAILS, resolveGuardrails, type GuardrailSetting } from './guardrail-settings';
import { evaluateRolloutGuardrails, type RolloutWindow } from './rollout-guardrails';
import type { GuardrailRequirement } from './guardrail-report';

/**
 * An arm whose answers cost `usd` each on average, with a spread of ±`spread` (half the answers
 * above, half below). `priced` answers have a known cost (the others came from a version without
 * prices). `heavy`: that many clusters carry all of the arm's extra cost above `usd` (a few users
 * who ask for long answers).
 */
interface CostArm {
  readonly answers: number;
  readonly usd: number;
  readonly spread?: number;
  readonly priced?: number;
  readonly heavy?: { readonly clusters: number; readonly extraUsd: number };
}

function arm(spec: CostArm): ArmEvidence {
  const t = emptyArmStats();
  t.requests = spec.answers;
  const n = spec.priced ?? spec.answers;
  const d = spec.spread ?? spec.usd / 2;
  const extra = spec.heavy ? spec.heavy.extraUsd * n : 0;
  // Half at usd + d, half at usd - d; the heavy clusters' extra on top of their share.
  t.cost = { n, sum: n * spec.usd + extra, sumSq: n * (spec.usd * spec.usd + d * d) };
  const clusters = emptyClusters();
  for (let g = 0; g < EVIDENCE_CLUSTERS; g++) {
    const base = g * CLUSTER_FIELD_COUNT;
    clusters[base + CLUSTER_FIELD.requests] = spec.answers / EVIDENCE_CLUSTERS;
    clusters[base + CLUSTER_FIELD.costN] = n / EVIDENCE_CLUSTERS;
    const heavyShare = spec.heavy && g < spec.heavy.clusters ? extra / spec.heavy.clusters : 0;
    clusters[base + CLUSTER_FIELD.costSum] = (n * spec.usd) / EVIDENCE_CLUSTERS + heavyShare;
  }
  if (spec.heavy) {
    // The extra makes those answers' squares larger too (variance within the arm).
    const m = t.cost.sum / n;
    t.cost.sumSq = Math.max(t.cost.sumSq, n * m * m + n * d * d);
  }
  return { totals: t, clusters, immatureFeedback: 0, immatureThumbsDown: 0 };
}

function window(
  baseline: CostArm,
  candidate: CostArm,
  requirement: GuardrailRequirement = 'noEvidenceOfHarm',
): RolloutWindow {
  const s: EvidenceStratum = {
    revision: 1,
    candidateRole: 'candidate',
    baseline: arm(baseline),
    candidate: arm(candidate),
  };
  return { strata: [s], candidateRole: 'candidate', stepFromRevision: 1, requirement, stepAgeSeconds: 3600 };
}

/** Only the cost guardrail, switched on with `over`. */
function costOnly(over: Partial<GuardrailSetting> = {}) {
  return resolveGuardrails({
    refusalRate: { enabled: false },
    thumbsDownRate: { enabled: false },
    errorRate: { enabled: false },
    silentFailureRate: { enabled: false },
    latencyP95: { enabled: false },
    outputLengthDrop: { enabled: false },
    ttftP95: { enabled: false },
    costPerRequest: { enabled: true, ...over },
  });
}

const judge = (w: RolloutWindow, over: Partial<GuardrailSetting> = {}) => {
  const r = evaluateRolloutGuardrails(costOnly(over), w).results.find((x) => x.metric === 'costPerRequest');
  if (!r) throw new Error('no cost result');
  return r;
};

describe('costPerRequest guardrail', () => {
  it('is off by default: the default settings judge no cost, and say so', () => {
    expect(DEFAULT_GUARDRAILS.costPerRequest).toMatchObject({ enabled: false, maxRelativeIncrease: 0.2 });
    const report = evaluateRolloutGuardrails(
      DEFAULT_GUARDRAILS,
      window({ answers: 5000, usd: 0.001 }, { answers: 5000, usd: 0.01 }),
    );
    expect(report.results.map((r) => r.metric)).not.toContain('costPerRequest');
    expect(report.disabled).toContain('costPerRequest');
  });

  const $ = 0.002; // a typical answer: 400 prompt + 500 completion tokens at $0.5 / $3.5 per million
  const rows: readonly {
    readonly scenario: string;
    readonly baseline: CostArm;
    readonly candidate: CostArm;
    readonly requirement?: GuardrailRequirement;
    readonly verdict: string;
    readonly relativeChange?: number;
  }[] = [
    {
      scenario: 'same price, same answers: passes with no difference',
      baseline: { answers: 5000, usd: $ },
      candidate: { answers: 5000, usd: $ },
      verdict: 'Successful',
      relativeChange: 0,
    },
    {
      scenario: 'a dearer output price (+50 %, limit +20 %) rolls back',
      baseline: { answers: 3000, usd: $ },
      candidate: { answers: 3000, usd: $ * 1.5 },
      verdict: 'Failed',
      relativeChange: 0.5,
    },
    {
      scenario: 'a little dearer (+10 %) within the +20 % limit goes on',
      baseline: { answers: 3000, usd: $ },
      candidate: { answers: 3000, usd: $ * 1.1 },
      verdict: 'Successful',
      relativeChange: 0.1,
    },
    {
      scenario: 'cheaper passes the gate to everyone with its harm bound shown',
      baseline: { answers: 20_000, usd: $ },
      candidate: { answers: 20_000, usd: $ * 0.6 },
      requirement: 'harmBound',
      verdict: 'Successful',
      relativeChange: -0.4,
    },
    {
      scenario: 'too few priced answers yet: holds',
      baseline: { answers: 150, usd: $ },
      candidate: { answers: 150, usd: $ * 1.5 },
      verdict: 'Inconclusive',
    },
    {
      scenario: 'a candidate without prices after enough requests: no data',
      baseline: { answers: 1000, usd: $ },
      candidate: { answers: 1000, usd: 0, priced: 0 },
      verdict: 'NoData',
    },
    {
      scenario:
        'a free baseline (self-hosted, price 0) against a paid candidate rolls back (floor $0.000001)',
      baseline: { answers: 1000, usd: 0, spread: 0 },
      candidate: { answers: 1000, usd: 0.0001 },
      verdict: 'Failed',
    },
  ];
  it.each(rows)('$scenario', ({ baseline, candidate, requirement, verdict, relativeChange }) => {
    const r = judge(window(baseline, candidate, requirement));
    expect(r.verdict).toBe(verdict);
    if (relativeChange !== undefined) expect(r.relativeChange).toBeCloseTo(relativeChange, 6);
  });

  it('measures the variance between user clusters: extra cost from a few heavy users is weak evidence', () => {
    const spread = judge(
      window(
        { answers: 4000, usd: $ },
        { answers: 4000, usd: $, heavy: { clusters: 100, extraUsd: $ * 0.3 } },
      ),
    );
    const heavy = judge(
      window({ answers: 4000, usd: $ }, { answers: 4000, usd: $, heavy: { clusters: 2, extraUsd: $ * 0.3 } }),
    );
    expect(spread.relativeChange).toBeCloseTo(0.3, 6);
    expect(heavy.relativeChange).toBeCloseTo(0.3, 6);
    expect(heavy.evidence?.designEffect ?? 0).toBeGreaterThan(5 * (spread.evidence?.designEffect ?? 1));
    expect(spread.verdict).toBe('Failed');
    expect(heavy.verdict).not.toBe('Failed');
  });

  it('says what it compared in dollars', () => {
    const r = judge(window({ answers: 3000, usd: 0.0018 }, { answers: 3000, usd: 0.0027 }));
    expect(r.reason).toContain('cost per request $0.0027 vs $0.0018 baseline, +50%');
  });
});

describe(formatUsd.name, () => {
  it.each([
    [0, '$0'],
    [0.0021, '$0.0021'],
    [0.000004567, '$0.0000046'],
    [0.01, '$0.01'],
    [0.123, '$0.12'],
    [12.345, '$12.35'],
  ])('%p -> %p', (usd, text) => expect(formatUsd(usd)).toBe(text));
});
