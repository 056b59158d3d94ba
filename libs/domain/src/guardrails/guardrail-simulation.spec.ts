import { DEFAULT_GUARDRAILS } from './guardrail-settings';
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
 * Monte-Carlo properties of the guardrail statistics with all default guardrails on. The figures
 * are printed and copied into docs/guardrail-statistics.md; reproduce with
 *   npx jest libs/domain/src/guardrails/guardrail-simulation --selectProjects unit
 */
const STEP: Pick<SimulationConfig, 'requestsPerLook' | 'maxRequestsPerArm'> = {
  requestsPerLook: 200,
  maxRequestsPerArm: 10_000,
};
const AA_RUNS = 1000;
const DETECTION_RUNS = 500;

const measured: [string, SimulationResult][] = [];
function simulate(scenario: string, config: Omit<SimulationConfig, keyof typeof STEP>): SimulationResult {
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
  const rows = measured.map(([scenario, r]) =>
    [
      scenario.padEnd(34),
      r.policy.padEnd(10),
      String(r.runs).padStart(5),
      pct(r.rollbacks).padStart(9),
      pct(r.promotions).padStart(9),
      num(r.medianRequestsPerArmToRollback).padStart(13),
      num(r.medianRequestsToRollback).padStart(13),
    ].join(' '),
  );
  const header = [
    'scenario'.padEnd(34),
    'policy'.padEnd(10),
    'runs'.padStart(5),
    'rollback'.padStart(9),
    'promoted'.padStart(9),
    'median/arm'.padStart(13),
    'median total'.padStart(13),
  ].join(' ');
  console.log(
    `guardrail simulation: ${STEP.requestsPerLook} requests per arm per look, up to ${STEP.maxRequestsPerArm} per arm\n` +
      [header, ...rows].join('\n'),
  );
});

describe(simulateRollouts.name, () => {
  it('rolls back at most 1% of A/A rollouts with all default guardrails checked at every look', () => {
    expect(aaSequential().rollbacks).toBeLessThanOrEqual(0.01);
  });

  it('rolls back far more A/A rollouts with the naive fixed-threshold check on the same streams', () => {
    const naive = simulate('A/A (typical chat arm)', { ...AA, policy: 'naive' });
    expect(naive.rollbacks).toBeGreaterThan(0.2);
    expect(naive.rollbacks).toBeGreaterThan(10 * Math.max(aaSequential().rollbacks, 0.005));
  });

  it('rolls back at least 95% of rollouts whose candidate doubles refusals (4% to 8%)', () => {
    const result = simulate('refusals 4% -> 8%', {
      runs: DETECTION_RUNS,
      seed: 20250302,
      baseline: TYPICAL_CHAT_ARM,
      candidate: doubledRefusals,
      policy: 'sequential',
    });
    expect(result.rollbacks).toBeGreaterThanOrEqual(0.95);
    expect(result.rollbacksBy.refusalRate).toBeGreaterThanOrEqual(0.95);
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
