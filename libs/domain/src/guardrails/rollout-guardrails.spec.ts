import { emptyArmStats, latencyBucketIndex } from './arm-stats';
import {
  CLUSTER_FIELD,
  CLUSTER_FIELD_COUNT,
  EVIDENCE_CLUSTERS,
  emptyClusters,
  type ArmEvidence,
  type EvidenceStratum,
} from './clustered-evidence';
import {
  effectiveFeedbackWindowSeconds,
  evaluateRolloutGuardrails,
  stepRequirement,
  type RolloutWindow,
} from './rollout-guardrails';
import { DEFAULT_GUARDRAILS, resolveGuardrails, type GuardrailMetric } from './guardrail-settings';
import type { GuardrailResult } from './guardrail-report';
import { DEFAULT_PLAN } from '../rollout/rollout-plan';
import type { RolloutPlan } from '../rollout/rollout.types';

/**
 * An arm: requests with a rate of refusals (and 2% of answers rated, `downs` of them thumbs-down).
 * `concentrated`: all refusals and thumbs-down come from that many clusters (a few heavy users);
 * otherwise they are spread evenly over the 100 clusters. `immature`: ratings still inside the
 * feedback window, all of them thumbs-down (downs arrive first).
 */
interface ArmSpec {
  readonly requests: number;
  readonly refusals?: number;
  readonly errors?: number;
  readonly ratings?: number;
  readonly downs?: number;
  readonly concentrated?: number;
  readonly immature?: number;
  readonly latencyMs?: number;
  /** Streamed answers and their time to first token (none by default). */
  readonly streamed?: number;
  readonly ttftMs?: number;
}

function arm(spec: ArmSpec): ArmEvidence {
  const t = emptyArmStats();
  const errors = spec.errors ?? 0;
  t.requests = spec.requests;
  t.errors = errors;
  t.refusals = spec.refusals ?? 0;
  t.feedback = (spec.ratings ?? Math.round(spec.requests * 0.02)) + (spec.immature ?? 0);
  t.thumbsDown =
    (spec.downs ?? Math.round((spec.ratings ?? spec.requests * 0.02) * 0.25)) + (spec.immature ?? 0);
  const answers = spec.requests - errors;
  t.outputTokens = { n: answers, sum: answers * 200, sumSq: answers * (200 * 200 + 100 * 100) };
  t.latency.counts[latencyBucketIndex(spec.latencyMs ?? 3000)] = answers;
  if (spec.streamed) t.ttft.counts[latencyBucketIndex(spec.ttftMs ?? 400)] = spec.streamed;
  const clusters = emptyClusters();
  const spread = (field: keyof typeof CLUSTER_FIELD, total: number, over: number): void => {
    for (let g = 0; g < over; g++) {
      const share = Math.floor(total / over) + (g < total % over ? 1 : 0);
      const i = g * CLUSTER_FIELD_COUNT + CLUSTER_FIELD[field];
      clusters[i] = (clusters[i] ?? 0) + share;
    }
  };
  spread('requests', t.requests, EVIDENCE_CLUSTERS);
  spread('errors', errors, EVIDENCE_CLUSTERS);
  spread('tokensN', answers, EVIDENCE_CLUSTERS);
  spread('tokensSum', answers * 200, EVIDENCE_CLUSTERS);
  spread('feedback', t.feedback, EVIDENCE_CLUSTERS);
  const over = spec.concentrated ?? EVIDENCE_CLUSTERS;
  spread('refusals', t.refusals, over);
  spread('thumbsDown', t.thumbsDown, over);
  return {
    totals: t,
    clusters,
    immatureFeedback: spec.immature ?? 0,
    immatureThumbsDown: spec.immature ?? 0,
  };
}

function stratum(
  revision: number,
  baseline: ArmSpec,
  candidate: ArmSpec,
  role: 'candidate' | 'shadow' = 'candidate',
): EvidenceStratum {
  return { revision, candidateRole: role, baseline: arm(baseline), candidate: arm(candidate) };
}

function window(strata: EvidenceStratum[], over: Partial<RolloutWindow> = {}): RolloutWindow {
  return {
    strata,
    candidateRole: 'candidate',
    stepFromRevision: Math.max(...strata.map((s) => s.revision)),
    requirement: 'noEvidenceOfHarm',
    stepAgeSeconds: 48 * 3600,
    ...over,
  };
}

const only = (metric: GuardrailMetric, extra: Parameters<typeof resolveGuardrails>[0] = {}) =>
  resolveGuardrails(
    Object.fromEntries(
      Object.keys(DEFAULT_GUARDRAILS).map((m) => [
        m,
        { enabled: m === metric, ...(extra[m as GuardrailMetric] ?? {}) },
      ]),
    ),
  );

function result(
  w: RolloutWindow,
  metric: GuardrailMetric,
  extra?: Parameters<typeof resolveGuardrails>[0],
): GuardrailResult {
  const r = evaluateRolloutGuardrails(only(metric, extra), w).results.find((x) => x.metric === metric);
  if (!r) throw new Error(`no ${metric} result`);
  return r;
}

describe(evaluateRolloutGuardrails.name, () => {
  it('compares each step with the baseline served at the same time, so drift between steps is no difference', () => {
    // Refusals tripled between the 5% step and the 50% step, for both versions alike. Pooling the raw
    // counts would weigh the candidate towards the later, worse period: +53% for an identical candidate.
    const w = window([
      stratum(1, { requests: 190_000, refusals: 1900 }, { requests: 10_000, refusals: 100 }),
      stratum(2, { requests: 100_000, refusals: 3000 }, { requests: 100_000, refusals: 3000 }),
    ]);
    const r = result(w, 'refusalRate');
    expect(r.relativeChange).toBeCloseTo(0, 6);
    expect(r.verdict).toBe('Successful');
    expect(r.evidence).toMatchObject({ window: 'rollout', steps: 2, clusters: 100 });
    const naive = 3100 / 110_000 / (4900 / 290_000) - 1;
    expect(naive).toBeGreaterThan(0.5);
  });

  it('measures the variance between user clusters: refusals from a few heavy users are worth few observations', () => {
    const spread = window([
      stratum(1, { requests: 500_000, refusals: 2500 }, { requests: 500_000, refusals: 3400 }),
    ]);
    const heavy = window([
      stratum(
        1,
        { requests: 500_000, refusals: 2500, concentrated: 5 },
        { requests: 500_000, refusals: 3400, concentrated: 5 },
      ),
    ]);
    const a = result(spread, 'refusalRate');
    const b = result(heavy, 'refusalRate');
    expect(a.relativeChange).toBeCloseTo(b.relativeChange ?? NaN, 9);
    expect(a.verdict).toBe('Failed'); // +36% with independent-looking evidence
    expect(b.verdict).toBe('Successful'); // the same counts from five clusters: not confidently past +20%
    expect(b.evidence?.designEffect).toBeGreaterThan(5);
    expect(b.evidence?.effectiveSamples.candidate).toBeLessThan(b.samples.candidate / 5);
    expect((b.interval?.upper ?? 0) - (b.interval?.lower ?? 0)).toBeGreaterThan(
      2 * ((a.interval?.upper ?? 0) - (a.interval?.lower ?? 0)),
    );
  });

  it('never takes the variance below that of independent requests', () => {
    // Every cluster exactly alike: the between-cluster variance is ~0, the independent one is not.
    const w = window([stratum(1, { requests: 20_000, refusals: 100 }, { requests: 20_000, refusals: 100 })]);
    const r = result(w, 'refusalRate');
    expect(r.interval?.upper).toBeGreaterThan(0.2);
    expect(r.evidence?.designEffect ?? 0).toBeLessThan(1);
  });

  it('passes an early step unless a guardrail shows harm, but the step to everyone only when the harm bound is shown', () => {
    // 5,000 vs 95,000: +15% refusals, within +20% but far from shown below +30%.
    const strata = [stratum(1, { requests: 95_000, refusals: 475 }, { requests: 5000, refusals: 29 })];
    const early = result(window(strata, { requirement: 'noEvidenceOfHarm' }), 'refusalRate');
    const gate = result(window(strata, { requirement: 'harmBound' }), 'refusalRate');
    expect(early.verdict).toBe('Successful');
    expect(gate.verdict).toBe('Inconclusive');
    expect(gate.harm).toMatchObject({ shown: false, alpha: 0.05 });
    expect(gate.harm?.limit).toBeCloseTo(0.3, 9);
    expect(gate.harm?.bound).toBeGreaterThan(0.3);
    expect(gate.harm?.needed?.factor).toBeGreaterThan(2);
    expect(gate.harm?.needed?.seconds).toBeGreaterThan(0);
    expect(gate.reason).toMatch(
      /not yet shown safe: at most \+\d+% with 95% confidence \(bound \+30%\); needs about/,
    );
  });

  it('shows the harm bound with enough evidence and an identical candidate', () => {
    const w = window(
      [
        stratum(1, { requests: 190_000, refusals: 950 }, { requests: 10_000, refusals: 50 }),
        stratum(2, { requests: 160_000, refusals: 800 }, { requests: 40_000, refusals: 200 }),
        stratum(3, { requests: 150_000, refusals: 750 }, { requests: 150_000, refusals: 750 }),
      ],
      { requirement: 'harmBound' },
    );
    const r = result(w, 'refusalRate');
    expect(r.verdict).toBe('Successful');
    expect(r.harm?.shown).toBe(true);
    expect(r.harm?.bound).toBeLessThan(0.3);
    expect(r.reason).toMatch(
      /within the limit, at most \+\d+% with 95% confidence \(bound \+30%\) \[3 steps pooled/,
    );
  });

  it('holds a point estimate past the tolerance at the step to everyone, even when the bound would pass', () => {
    const w = window(
      [stratum(1, { requests: 4_000_000, refusals: 20_000 }, { requests: 4_000_000, refusals: 24_400 })],
      {
        requirement: 'harmBound',
      },
    );
    const r = result(w, 'refusalRate');
    expect(r.relativeChange).toBeCloseTo(0.22, 3);
    expect(r.harm?.shown).toBe(true);
    expect(r.verdict).toBe('Inconclusive');
  });

  it('compares only ratings whose feedback window has passed: fast thumbs-down of young answers do not count', () => {
    const strata = [
      stratum(
        1,
        { requests: 100_000, ratings: 2000, downs: 500 },
        { requests: 100_000, ratings: 2000, downs: 500, immature: 300 },
      ),
    ];
    const r = result(window(strata), 'thumbsDownRate');
    expect(r.candidate).toBeCloseTo(0.25, 9);
    expect(r.relativeChange).toBeCloseTo(0, 9);
    expect(r.feedbackWindow).toMatchObject({
      seconds: 6 * 3600,
      waitingSeconds: 0,
      immature: { baseline: 0, candidate: 300 },
    });
    // Counted at once, the young thumbs-down would have looked like a +31% thumbs-down rate.
    const all = result(window(strata), 'thumbsDownRate', { thumbsDownRate: { feedbackWindowSeconds: 0 } });
    expect(all.verdict).toBe('Successful');
  });

  it('calls ratings still inside their window on their way, not missing', () => {
    const strata = [
      stratum(
        1,
        { requests: 10_000, ratings: 200, downs: 50 },
        { requests: 1000, ratings: 0, downs: 0, immature: 20 },
      ),
    ];
    const r = result(window(strata), 'thumbsDownRate');
    expect(r.verdict).toBe('Inconclusive');
    expect(r.samples.candidate).toBe(0);
    const none = [
      stratum(1, { requests: 10_000, ratings: 200, downs: 50 }, { requests: 1000, ratings: 0, downs: 0 }),
    ];
    expect(result(window(none), 'thumbsDownRate').verdict).toBe('NoData');
  });

  it('waits for the step’s own feedback window before passing the step to everyone on ratings', () => {
    const strata = [
      stratum(
        1,
        { requests: 400_000, ratings: 8000, downs: 2000 },
        { requests: 400_000, ratings: 8000, downs: 2000 },
      ),
    ];
    const young = result(
      window(strata, { requirement: 'harmBound', stepAgeSeconds: 4 * 3600 }),
      'thumbsDownRate',
    );
    expect(young.verdict).toBe('Inconclusive');
    expect(young.feedbackWindow?.waitingSeconds).toBe(2 * 3600);
    expect(young.reason).toMatch(/waiting for feedback on this step's answers \(2h more of its 6h window\)/);
    const old = result(
      window(strata, { requirement: 'harmBound', stepAgeSeconds: 7 * 3600 }),
      'thumbsDownRate',
    );
    expect(old.verdict).toBe('Successful');
  });

  it('judges latency on the current step only: an earlier step served at a busier time does not count', () => {
    const w = window([
      stratum(1, { requests: 5000, latencyMs: 9000 }, { requests: 5000, latencyMs: 3000 }),
      stratum(2, { requests: 5000, latencyMs: 3000 }, { requests: 5000, latencyMs: 3000 }),
    ]);
    const r = result(w, 'latencyP95');
    expect(r.evidence).toMatchObject({ window: 'step', steps: 1 });
    expect(r.relativeChange).toBeCloseTo(0, 9);
  });

  it('rolls back a candidate whose streamed answers start twice as late, whatever the whole answer takes', () => {
    const w = window([
      stratum(
        1,
        { requests: 5000, streamed: 3000, ttftMs: 400 },
        { requests: 5000, streamed: 3000, ttftMs: 900 },
      ),
    ]);
    expect(result(w, 'latencyP95').verdict).toBe('Successful');
    const r = result(w, 'ttftP95');
    expect(r.verdict).toBe('Failed');
    expect(r.reason).toMatch(/^time to first token p95/);
  });

  it('has no time-to-first-token evidence without streamed answers, and does not hold the rollout for it', () => {
    // Fewer requests than ttftP95's minSamples: a step of a small app is not held for streams it never sends.
    expect(
      result(window([stratum(1, { requests: 50 }, { requests: 50 })]), 'ttftP95', {
        ttftP95: { onMissingData: 'ignore' },
      }).verdict,
    ).toBe('NoData');
    const w = window([stratum(1, { requests: 5000 }, { requests: 5000 })]);
    const settings = resolveGuardrails({ refusalRate: { enabled: false } });
    const report = evaluateRolloutGuardrails(settings, w);
    expect(report.results.find((x) => x.metric === 'ttftP95')?.verdict).toBe('NoData');
    expect(DEFAULT_GUARDRAILS.ttftP95.onMissingData).toBe('ignore');
    expect(report.verdict).not.toBe('Failed');
    expect(report.decidedBy).not.toContain('ttftP95');
  });

  it('compares shadow copies with the baseline in a shadow step, and ignores them in the canary steps', () => {
    const shadow = stratum(
      1,
      { requests: 10_000, refusals: 50 },
      { requests: 10_000, refusals: 500 },
      'shadow',
    );
    const canary = stratum(2, { requests: 10_000, refusals: 50 }, { requests: 10_000, refusals: 50 });
    expect(
      result(window([shadow], { candidateRole: 'shadow', stepFromRevision: 1 }), 'refusalRate').verdict,
    ).toBe('Failed');
    expect(result(window([shadow, canary]), 'refusalRate').verdict).toBe('Successful');
  });

  it('uses the independent-requests variance for evidence stored before clusters were counted', () => {
    const w = window([stratum(1, { requests: 20_000, refusals: 100 }, { requests: 20_000, refusals: 400 })]);
    const bare = {
      ...w,
      strata: w.strata.map((s) => ({
        ...s,
        baseline: { ...s.baseline, clusters: emptyClusters() },
        candidate: { ...s.candidate, clusters: emptyClusters() },
      })),
    };
    const r = result(bare, 'refusalRate');
    expect(r.verdict).toBe('Failed');
    expect(r.evidence).toMatchObject({ clusters: 0, designEffect: null });
  });

  it('says which step the baseline served nobody in: a 100% step without holdback is judged on earlier steps', () => {
    const w = window([
      stratum(1, { requests: 100_000, refusals: 500 }, { requests: 100_000, refusals: 520 }),
      stratum(2, { requests: 0 }, { requests: 200_000, refusals: 4000 }),
    ]);
    const r = result(w, 'refusalRate');
    expect(r.evidence?.steps).toBe(1);
    expect(r.verdict).toBe('Successful');
  });
});

describe(effectiveFeedbackWindowSeconds.name, () => {
  it('keeps the rollout’s window for long steps and caps it at a short step’s minimum', () => {
    const settings = resolveGuardrails({});
    expect(effectiveFeedbackWindowSeconds(settings, DEFAULT_PLAN, 3)).toBe(6 * 3600);
    const quick: RolloutPlan = { steps: [{ type: 'setWeight', weight: 100, minDurationSeconds: 30 }] };
    expect(effectiveFeedbackWindowSeconds(settings, quick, 0)).toBe(30);
    const off = resolveGuardrails({ thumbsDownRate: { feedbackWindowSeconds: 0 } });
    expect(effectiveFeedbackWindowSeconds(off, DEFAULT_PLAN, 3)).toBe(0);
  });
});

describe(stepRequirement.name, () => {
  const plan = (weights: (number | 'shadow' | 'bake')[]): RolloutPlan => ({
    steps: weights.map((w) =>
      w === 'shadow'
        ? { type: 'shadow' as const, sampleRate: 1, minDurationSeconds: 60 }
        : w === 'bake'
          ? { type: 'bake' as const, minDurationSeconds: 60 }
          : { type: 'setWeight' as const, weight: w, minDurationSeconds: 60 },
    ),
  });
  it.each<[string, RolloutPlan, string[]]>([
    ['the default plan: the 50% step is the gate', DEFAULT_PLAN, ['n', 'n', 'n', 'h', 'n', 'n']],
    ['shadow straight to 100%: the shadow step is the gate', plan(['shadow', 100]), ['h', 'n']],
    ['100% first: that step is the gate', plan([100, 'bake']), ['h', 'n']],
    ['canary to 100% with a bake', plan([20, 50, 100, 'bake']), ['n', 'h', 'n', 'n']],
  ])('%s', (_name, p, expected) => {
    expect(p.steps.map((_, i) => (stepRequirement(p, i) === 'harmBound' ? 'h' : 'n'))).toEqual(expected);
  });
});
