import {
  bisectPredicate,
  logGamma,
  normalMixtureMultiplier,
  oneSidedNormalMixtureMultiplier,
  proportionConfidenceInterval,
  proportionConfidentlyAbove,
  proportionConfidentlyBelow,
} from './confidence-sequences';
import { seededRandom } from './guardrail-simulation';

describe(logGamma.name, () => {
  // Reference values: Python's math.lgamma.
  // prettier-ignore
  it.each<[number, number]>([
    [0.5, 0.5723649429247004],
    [1, 0],
    [2, 0],
    [5, 3.178053830347945],
    [9.5, 11.689333420797269],
    [10, 12.801827480081467],
    [10.5, 13.940625219403763],
    [100, 359.1342053695754],
    [12345.5, 103958.24296512322],
    [1e7, 151180949.3694739],
  ])('log Gamma(%d) = %d', (x, expected) => {
    expect(Math.abs(logGamma(x) - expected)).toBeLessThan(1e-9 * Math.max(1, Math.abs(expected)));
  });
});

describe(bisectPredicate.name, () => {
  it('finds where a monotone predicate flips, from either side', () => {
    expect(bisectPredicate(0, 10, (x) => x < Math.PI)).toBeCloseTo(Math.PI, 6);
    expect(bisectPredicate(0, 10, (x) => x > Math.E)).toBeCloseTo(Math.E, 6);
  });
});

describe(proportionConfidenceInterval.name, () => {
  // prettier-ignore
  it.each<[string, number, number, number, number]>([
    ['is wide after a handful of requests', 1, 10, 0.0, 0.6],
    ['is tight after many requests', 500, 10_000, 0.04, 0.06],
    ['starts at zero without successes', 0, 1000, 0, 0.01],
    ['ends at one when everything succeeded', 20, 20, 0.7, 1],
  ])('%s', (_name, successes, trials, lowerAtLeast, upperAtMost) => {
    const ci = proportionConfidenceInterval(successes, trials, 0.05);
    expect(ci.lower).toBeGreaterThanOrEqual(lowerAtLeast);
    expect(ci.upper).not.toBeNull();
    expect(ci.upper ?? 2).toBeLessThanOrEqual(upperAtMost);
    expect(ci.lower).toBeLessThanOrEqual(successes / trials);
    expect(ci.upper ?? 2).toBeGreaterThanOrEqual(successes / trials);
  });

  it('excludes exactly the values the one-sided tests reject', () => {
    const ci = proportionConfidenceInterval(80, 1000, 0.01);
    expect(proportionConfidentlyAbove(80, 1000, ci.lower - 1e-4, 0.01)).toBe(true);
    expect(proportionConfidentlyAbove(80, 1000, ci.lower + 1e-4, 0.01)).toBe(false);
    expect(proportionConfidentlyBelow(80, 1000, (ci.upper ?? 1) + 1e-4, 0.01)).toBe(true);
    expect(proportionConfidentlyBelow(80, 1000, (ci.upper ?? 1) - 1e-4, 0.01)).toBe(false);
  });

  it('is sure after five errors in five requests that the rate is above 5%', () => {
    expect(proportionConfidentlyAbove(5, 5, 0.05, 0.01)).toBe(true);
    expect(proportionConfidentlyAbove(1, 5, 0.05, 0.01)).toBe(false);
  });
});

describe('time-uniform coverage', () => {
  /**
   * The property the analyzer relies on: checked at every look, a confidence sequence at level alpha
   * excludes the truth in at most alpha of the streams. The same streams checked with a fixed-sample
   * 95% interval at every look exclude it far more often, which is why fixed tests are not used.
   */
  it('excludes a true 5% proportion in at most alpha of streams checked every 10 observations', () => {
    const alpha = 0.05;
    const streams = 1000;
    const random = seededRandom(7);
    let sequenceMisses = 0;
    let fixedMisses = 0;
    for (let s = 0; s < streams; s++) {
      let successes = 0;
      let sequenceMissed = false;
      let fixedMissed = false;
      for (let n = 1; n <= 2000; n++) {
        if (random.next() < 0.05) successes += 1;
        if (n % 10 !== 0) continue;
        sequenceMissed ||=
          proportionConfidentlyAbove(successes, n, 0.05, alpha) ||
          proportionConfidentlyBelow(successes, n, 0.05, alpha);
        fixedMissed ||= Math.abs(successes / n - 0.05) > 1.96 * Math.sqrt((0.05 * 0.95) / n);
      }
      if (sequenceMissed) sequenceMisses += 1;
      if (fixedMissed) fixedMisses += 1;
    }
    expect(sequenceMisses / streams).toBeLessThanOrEqual(alpha);
    expect(fixedMisses / streams).toBeGreaterThan(0.3);
  });

  it('excludes a true zero difference between two arms in at most alpha of streams (normal mixture)', () => {
    const misses = twoArmCrossings(
      11,
      (d, se, n) => Math.abs(d) > normalMixtureMultiplier(n, 0.05, 2000) * se,
    );
    expect(misses).toBeLessThanOrEqual(0.05);
  });
});

/**
 * The share of 400 pairs of identical 4% streams (10,000 observations each, a look every 100) in
 * which `crossed(difference, standard error, n)` is true at some look.
 */
function twoArmCrossings(seed: number, crossed: (d: number, se: number, n: number) => boolean): number {
  const streams = 400;
  const random = seededRandom(seed);
  let misses = 0;
  for (let s = 0; s < streams; s++) {
    let xb = 0;
    let xc = 0;
    for (let n = 1; n <= 10_000; n++) {
      if (random.next() < 0.04) xb += 1;
      if (random.next() < 0.04) xc += 1;
      if (n % 100 !== 0) continue;
      const pb = (xb + 1) / (n + 2);
      const pc = (xc + 1) / (n + 2);
      const se = Math.sqrt((pb * (1 - pb) + pc * (1 - pc)) / n);
      if (crossed(xc / n - xb / n, se, n)) {
        misses += 1;
        break;
      }
    }
  }
  return misses / streams;
}

describe(normalMixtureMultiplier.name, () => {
  const z = (n: number): number => normalMixtureMultiplier(n, 0.01, 2000);

  it('says nothing without observations', () => {
    expect(z(0)).toBe(Number.POSITIVE_INFINITY);
  });

  it('is wider than a fixed-sample interval at every sample size', () => {
    for (const n of [10, 100, 2000, 1e5, 1e7]) expect(z(n)).toBeGreaterThan(2.576);
  });

  it('is tightest near the planned sample size and grows only slowly past it', () => {
    expect(z(2000)).toBeLessThan(z(200));
    expect(z(2000)).toBeLessThan(z(20_000));
    expect(z(2000)).toBeLessThan(4);
    expect(z(2_000_000)).toBeLessThan(1.5 * z(2000));
  });
});

describe(oneSidedNormalMixtureMultiplier.name, () => {
  it('costs about what a two-sided sequence at twice the error does', () => {
    // At the planned information, the one-sided z at 5% (2.77) is close to the two-sided one at 10%.
    const one = oneSidedNormalMixtureMultiplier(1, 0.05);
    expect(one).toBeGreaterThan(2.7);
    expect(one).toBeLessThan(2.8);
    expect(one).toBeLessThan(normalMixtureMultiplier(2000, 0.05, 2000));
    expect(one).toBeGreaterThan(1.645);
  });

  it('is tightest at the planned information and says nothing without any', () => {
    const z = (i: number): number => oneSidedNormalMixtureMultiplier(i, 0.025);
    expect(z(0)).toBe(Number.POSITIVE_INFINITY);
    expect(z(1)).toBeLessThan(z(0.1));
    expect(z(1)).toBeLessThan(z(10));
    expect(z(100)).toBeLessThan(1.25 * z(1));
  });

  it('crosses a true zero difference from one side in at most alpha of streams checked every 100 observations', () => {
    const misses = twoArmCrossings(
      13,
      (d, se, n) => d > oneSidedNormalMixtureMultiplier(n / 2000, 0.05) * se,
    );
    expect(misses).toBeLessThanOrEqual(0.05);
  });
});
