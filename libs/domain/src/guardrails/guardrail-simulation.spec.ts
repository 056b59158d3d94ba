import { DEFAULT_GUARDRAILS, type GuardrailSettings } from './guardrail-settings';
import {
  naiveThresholdCheck,
  seededRandom,
  simulateRollouts,
  TYPICAL_CHAT_ARM,
  type SimulatedArm,
  type SimulationConfig,
  type SimulationResult,
} from './guardrail-simulation';
import { emptyArmStats } from './arm-stats';

/**
 * Monte-Carlo properties of the guardrail statistics with all default guardrails on, one rollout
 * step at a time as the control plane runs it: a look every 200 requests per arm, rolled back at the
 * first Failed look, promoted at the first Successful look once the step's minimum (1,000 requests
 * per arm) has passed, undecided after 10,000. The figures are printed and copied into
 * docs/guardrail-statistics.md; reproduce with
 *   npx jest libs/domain/src/guardrails/guardrail-simulation --selectProjects unit
 */
const STEP: Pick<
  SimulationConfig,
  'requestsPerLook' | 'minRequestsPerArmBeforePromotion' | 'maxRequestsPerArm'
> = {
  requestsPerLook: 200,
  minRequestsPerArmBeforePromotion: 1000,
  maxRequestsPerArm: 10_000,
};
const AA_RUNS = 1000;
const DETECTION_RUNS = 500;

type ScenarioConfig = Omit<SimulationConfig, keyof typeof STEP> & Partial<typeof STEP>;

const measured: [string, SimulationResult][] = [];
function simulate(scenario: string, config: ScenarioConfig): SimulationResult {
  const result = simulateRollouts({ ...STEP, ...config });
  measured.push([scenario, result]);
  return result;
}

/** Identical arms; both policies see the same streams (same seed). */
const AA = { runs: AA_RUNS, seed: 20250301, baseline: TYPICAL_CHAT_ARM, candidate: TYPICAL_CHAT_ARM };
let aaSequentialResult: SimulationResult | undefined;
function aaSequential(): SimulationResult {
  aaSequentialResult ??= simulate('A/A (typical chat arm)', { ...AA, policy: 'sequential' });
  return aaSequentialResult;
}

const doubledRefusals: SimulatedArm = { ...TYPICAL_CHAT_ARM, refusalRate: 0.08 };

afterAll(() => {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const num = (x: number | null): string => (x === null ? '-' : String(Math.round(x)));
  const columns: [string, number, (r: SimulationResult) => string][] = [
    ['policy', 10, (r) => r.policy],
    ['runs', 5, (r) => String(r.runs)],
    ['rollback', 9, (r) => pct(r.rollbacks)],
    ['promoted', 9, (r) => pct(r.promotions)],
    ['undecided', 10, (r) => pct(r.undecided)],
    ['med/arm to rollback', 20, (r) => num(r.medianRequestsPerArmToRollback)],
    ['med/arm to promotion', 21, (r) => num(r.medianRequestsPerArmToPromotion)],
    ['all proven', 11, (r) => pct(r.provenAtPromotion)],
  ];
  const line = (first: string, cells: string[]): string =>
    [
      first.padEnd(40),
      ...cells.map((c, i) => (i === 0 ? c.padEnd(10) : c.padStart(columns[i]?.[1] ?? 0))),
    ].join(' ');
  const header = line(
    'scenario',
    columns.map(([name]) => name),
  );
  const rows = measured.map(([scenario, r]) =>
    line(
      scenario,
      columns.map(([, , cell]) => cell(r)),
    ),
  );
  console.log(
    `guardrail simulation: ${STEP.requestsPerLook} requests per arm per look, promotion from ` +
      `${STEP.minRequestsPerArmBeforePromotion} (unless stated), up to ${STEP.maxRequestsPerArm} per arm\n` +
      [header, ...rows].join('\n'),
  );
});

describe(simulateRollouts.name, () => {
  it('rolls back at most 1% of A/A rollouts with all default guardrails checked at every look', () => {
    expect(aaSequential().rollbacks).toBeLessThanOrEqual(0.01);
  });

  it('promotes most A/A rollouts well within the step, mostly without proof', () => {
    const result = aaSequential();
    expect(result.promotions).toBeGreaterThanOrEqual(0.75);
    // Not before the largest default minSamples (2,000 requests for errors; 200 ratings, ~2,000
    // requests, for thumbs-down), and well within 10,000 requests per arm.
    expect(result.medianRequestsPerArmToPromotion).toBeGreaterThanOrEqual(2000);
    expect(result.medianRequestsPerArmToPromotion).toBeLessThanOrEqual(4000);
    // Proving non-inferiority on every guardrail would take ~400,000 requests per arm.
    expect(result.provenAtPromotion).toBe(0);
  });

  it('rolls back far more A/A rollouts with the naive fixed-threshold check on the same streams', () => {
    const naive = simulate('A/A (typical chat arm)', { ...AA, policy: 'naive' });
    expect(naive.rollbacks).toBeGreaterThan(0.5);
    expect(naive.rollbacks).toBeGreaterThan(10 * Math.max(aaSequential().rollbacks, 0.005));
  });

  it('rolls back at least 95% of rollouts whose candidate doubles refusals (4% to 8%) before any promotion', () => {
    const result = simulate('refusals 4% -> 8%', {
      runs: DETECTION_RUNS,
      seed: 20250302,
      baseline: TYPICAL_CHAT_ARM,
      candidate: doubledRefusals,
      policy: 'sequential',
    });
    expect(result.rollbacks).toBeGreaterThanOrEqual(0.95);
    expect(result.rollbacksBy.refusalRate).toBeGreaterThanOrEqual(0.95);
    expect(result.promotions).toBeLessThanOrEqual(0.01);
    // Recorded in the doc; bounds only catch a change of method that would need the doc updated.
    expect(result.medianRequestsPerArmToRollback).toBeGreaterThan(400);
    expect(result.medianRequestsPerArmToRollback).toBeLessThan(4000);
  });

  it('detects doubled refusals with the naive check too, which is why its false alarms matter', () => {
    const result = simulate('refusals 4% -> 8%', {
      runs: DETECTION_RUNS,
      seed: 20250302,
      baseline: TYPICAL_CHAT_ARM,
      candidate: doubledRefusals,
      policy: 'naive',
    });
    expect(result.rollbacks).toBeGreaterThanOrEqual(0.95);
  });

  // minSamples alone (no step minimum) keeps a doubled rate from passing on a lucky point estimate.
  // prettier-ignore
  it.each<[string, SimulatedArm]>([
    ['errors 1% -> 2%, no step minimum', { ...TYPICAL_CHAT_ARM, errorRate: 0.02 }],
    ['empty answers 2% -> 4%, no step minimum', { ...TYPICAL_CHAT_ARM, silentFailureRate: 0.04 }],
    ['thumbs-down 10% -> 20%, no step minimum', { ...TYPICAL_CHAT_ARM, thumbsDownRate: 0.2 }],
  ])('promotes at most 2%% of rollouts with %s', (scenario, candidate) => {
    const result = simulate(scenario, {
      runs: 200,
      seed: 20250305,
      baseline: TYPICAL_CHAT_ARM,
      candidate,
      policy: 'sequential',
      minRequestsPerArmBeforePromotion: 0,
    });
    // About 1% by design (see DEFAULT_GUARDRAILS); 2% leaves room for the noise of 200 runs. With the
    // old minSamples (200 requests or responses, 50 ratings) 4% of the errors and 5% of the
    // thumbs-down rollouts were promoted.
    expect(result.promotions).toBeLessThanOrEqual(0.02);
  });

  it('promotes most candidates that are worse but within the tolerance (refusals +10%)', () => {
    const result = simulate('refusals 4% -> 4.4% (within the limit)', {
      runs: 200,
      seed: 20250306,
      baseline: TYPICAL_CHAT_ARM,
      candidate: { ...TYPICAL_CHAT_ARM, refusalRate: 0.044 },
      policy: 'sequential',
    });
    expect(result.rollbacks).toBeLessThanOrEqual(0.01);
    expect(result.promotions).toBeGreaterThanOrEqual(0.6);
  });

  it('holds rather than promotes most candidates in the suspicious zone (refusals +50%)', () => {
    const result = simulate('refusals 4% -> 6% (+50%)', {
      runs: 200,
      seed: 20250307,
      baseline: TYPICAL_CHAT_ARM,
      candidate: { ...TYPICAL_CHAT_ARM, refusalRate: 0.06 },
      policy: 'sequential',
    });
    // Beyond the tolerance but not by enough to be confident quickly: most are held, then rolled back.
    expect(result.promotions).toBeLessThanOrEqual(0.1);
    expect(result.rollbacks).toBeGreaterThanOrEqual(0.3);
  });

  it('rolls back few candidates that sit exactly at the refusal tolerance (+20%)', () => {
    const result = simulate('refusals 4% -> 4.8% (at the limit)', {
      runs: 300,
      seed: 20250303,
      baseline: TYPICAL_CHAT_ARM,
      candidate: { ...TYPICAL_CHAT_ARM, refusalRate: 0.048 },
      policy: 'sequential',
    });
    // The guarantee is alpha / 6 = 0.83% per guardrail; 2% leaves room for simulation noise.
    expect(result.rollbacks).toBeLessThanOrEqual(0.02);
  });

  // prettier-ignore
  it.each<[string, SimulatedArm]>([
    ['errors 1% -> 3%', { ...TYPICAL_CHAT_ARM, errorRate: 0.03 }],
    ['empty answers 2% -> 5%', { ...TYPICAL_CHAT_ARM, silentFailureRate: 0.05 }],
    ['decoding twice as slow', { ...TYPICAL_CHAT_ARM, latency: { ...TYPICAL_CHAT_ARM.latency, msPerToken: 30 } }],
    ['answers half as long', { ...TYPICAL_CHAT_ARM, outputTokens: { median: 100, sigma: 0.6 } }],
  ])('rolls back at least 95% of rollouts with %s', (scenario, candidate) => {
    const result = simulate(scenario, {
      runs: 200,
      seed: 20250304,
      baseline: TYPICAL_CHAT_ARM,
      candidate,
      policy: 'sequential',
    });
    expect(result.rollbacks).toBeGreaterThanOrEqual(0.95);
    expect(result.promotions).toBeLessThanOrEqual(0.01);
  });

  it('replays the same streams for the same seed', () => {
    const config: SimulationConfig = {
      ...STEP,
      runs: 20,
      seed: 5,
      baseline: TYPICAL_CHAT_ARM,
      candidate: doubledRefusals,
      policy: 'sequential',
    };
    expect(simulateRollouts(config)).toEqual(simulateRollouts(config));
    expect(simulateRollouts({ ...config, seed: 6 })).not.toEqual(simulateRollouts(config));
  });

  it('promotes at the first Successful look after the step minimum, and rolls back at a Failed one', () => {
    const all = {
      runs: 50,
      seed: 9,
      baseline: TYPICAL_CHAT_ARM,
      requestsPerLook: 100,
      maxRequestsPerArm: 3000,
    };
    // With every guardrail needing only 1 observation and tolerances nothing can exceed, each look is
    // Successful: promotion happens exactly at the step minimum.
    const lenient = Object.fromEntries(
      Object.entries(DEFAULT_GUARDRAILS).map(([m, s]) => [
        m,
        {
          ...s,
          minSamples: 1,
          maxRelativeIncrease: m === 'outputLengthDrop' ? 1 : 1e9,
          absoluteCeiling: null,
        },
      ]),
    ) as unknown as GuardrailSettings;
    const promoted = simulateRollouts({
      ...all,
      candidate: TYPICAL_CHAT_ARM,
      policy: 'sequential',
      settings: lenient,
      minRequestsPerArmBeforePromotion: 700,
    });
    expect(promoted).toMatchObject({ promotions: 1, rollbacks: 0, medianRequestsPerArmToPromotion: 700 });
    expect(promoted.medianRequestsPerArmToSuccess).toBeLessThan(700);
    // A candidate that always errors fails the 5% ceiling at the first look, before any promotion.
    const broken = simulateRollouts({
      ...all,
      candidate: { ...TYPICAL_CHAT_ARM, errorRate: 1 },
      policy: 'sequential',
      minRequestsPerArmBeforePromotion: 0,
    });
    expect(broken).toMatchObject({ promotions: 0, rollbacks: 1, medianRequestsPerArmToRollback: 100 });
  });
});

describe(naiveThresholdCheck.name, () => {
  it('waits for minSamples, then compares point estimates with the limit', () => {
    const baseline = { ...emptyArmStats(), requests: 1000, refusals: 40 };
    const candidate = { ...emptyArmStats(), requests: 1000, refusals: 49 };
    const only = { ...DEFAULT_GUARDRAILS };
    for (const m of [
      'thumbsDownRate',
      'errorRate',
      'silentFailureRate',
      'latencyP95',
      'outputLengthDrop',
      'ttftP95',
    ] as const) {
      only[m] = { ...only[m], enabled: false };
    }
    expect(naiveThresholdCheck(only, baseline, candidate)).toEqual({
      verdict: 'Failed',
      failed: ['refusalRate'],
    });
    expect(naiveThresholdCheck(only, baseline, { ...candidate, refusals: 47 }).verdict).toBe('Successful');
    expect(naiveThresholdCheck(only, { ...baseline, requests: 100 }, candidate).verdict).toBe('Inconclusive');
  });
});

describe(seededRandom.name, () => {
  it('is reproducible and roughly uniform and normal', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const draws = Array.from({ length: 20_000 }, () => a.next());
    expect(draws.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b.next()));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    expect(draws.reduce((s, x) => s + x, 0) / draws.length).toBeCloseTo(0.5, 2);
    const normals = Array.from({ length: 20_000 }, () => a.normal());
    const mean = normals.reduce((s, x) => s + x, 0) / normals.length;
    const variance = normals.reduce((s, x) => s + (x - mean) ** 2, 0) / normals.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(variance).toBeCloseTo(1, 1);
  });
});
