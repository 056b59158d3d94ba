import { INFINITY, PI, abs, exp, log, log1p, max, sin, sqrt } from './fast-math';

/**
 * Always-valid (time-uniform) confidence sequences. The analyzer looks at cumulative data every few
 * seconds; a fixed-sample test checked that often would cry wolf on most healthy rollouts. A
 * confidence sequence at level alpha covers the true value at every look simultaneously, with
 * probability at least 1 - alpha, so stopping at the first look that excludes a value is safe.
 *
 * Two constructions, both from mixture martingales and Ville's inequality:
 *
 * 1. Bernoulli mixture (Robbins 1970): for one proportion p (a candidate's error rate against a
 *    ceiling, the share of requests slower than a latency edge), the uniform-prior mixture
 *      M_n(p0) = B(S + 1, n - S + 1) / (p0^S (1 - p0)^(n - S))
 *    is a martingale under p = p0, so {p0 : M_n(p0) < 1/alpha} is an exact confidence sequence at
 *    any sample size. Used wherever one arm is compared with a fixed number.
 *
 * 2. Normal mixture, asymptotic (Waudby-Smith, Arnold, Wu, Howard, Ramdas, "Time-uniform central
 *    limit theory and asymptotic confidence sequences", 2021/2024, Thm 2.2): for a mean estimated by
 *    t observations with plug-in standard deviation sigma-hat, the radius
 *      sqrt( 2 (t sigma² rho² + 1) / (t² rho²) * log( sqrt(t sigma² rho² + 1) / alpha ) )
 *    is an asymptotic confidence sequence. Writing V = sigma²/t for the estimate's variance and
 *    u = t sigma² rho², the radius is sqrt(V) * z(u) with
 *      z(u) = sqrt( 2 (1 + u) / u * log( sqrt(1 + u) / alpha ) ).
 *    The same holds for a difference of two independent arms' means (V = V_b + V_c). Used for the
 *    two-arm comparisons (rates, mean output length).
 *
 *    rho sets where the sequence is tightest. Following the paper, u = c * n / nPlan with
 *    c = -2 log(alpha) + log(1 - 2 log(alpha)) makes the radius (nearly) smallest when the smaller
 *    arm has nPlan observations; rho is a fixed mixing scale on the standardised effect, so the
 *    plug-in variance enters exactly as in the paper.
 */

const LANCZOS_G = 7;
const [L0, L1, L2, L3, L4, L5, L6, L7, L8] = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
] as const;
const HALF_LOG_2PI = 0.5 * log(2 * PI);

/**
 * log Gamma(x) for x > 0: Stirling's series from x = 10 (error below 1e-15 relative), Lanczos
 * (g = 7) below. Runs a few hundred times per evaluation, so it is written out.
 */
export function logGamma(x: number): number {
  if (x >= 10) {
    const r = 1 / x;
    const r2 = r * r;
    const series = r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 / 1188))));
    return (x - 0.5) * log(x) - x + HALF_LOG_2PI + series;
  }
  if (x < 0.5) return log(PI / sin(PI * x)) - logGamma(1 - x);
  const y = x - 1;
  const t = y + LANCZOS_G + 0.5;
  const series =
    L0 +
    L1 / (y + 1) +
    L2 / (y + 2) +
    L3 / (y + 3) +
    L4 / (y + 4) +
    L5 / (y + 5) +
    L6 / (y + 6) +
    L7 / (y + 7) +
    L8 / (y + 8);
  return HALF_LOG_2PI + (y + 0.5) * log(t) - t + log(series);
}

export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/** log M_n(p0) of the uniform Bernoulli mixture: evidence that the true proportion is not p0. */
export function bernoulliMixtureLogWealth(successes: number, trials: number, p0: number): number {
  const failures = trials - successes;
  const logLikelihoodAtP0 =
    (successes > 0 ? successes * log(p0) : 0) + (failures > 0 ? failures * log1p(-p0) : 0);
  return logBeta(successes + 1, failures + 1) - logLikelihoodAtP0;
}

/** Whether the proportion is confidently above p0 (the confidence sequence lies entirely above it). */
export function proportionConfidentlyAbove(
  successes: number,
  trials: number,
  p0: number,
  alpha: number,
): boolean {
  if (trials <= 0 || successes / trials <= p0) return false;
  return bernoulliMixtureLogWealth(successes, trials, p0) >= log(1 / alpha);
}

/** Whether the proportion is confidently below p0. */
export function proportionConfidentlyBelow(
  successes: number,
  trials: number,
  p0: number,
  alpha: number,
): boolean {
  if (trials <= 0 || successes / trials >= p0) return false;
  return bernoulliMixtureLogWealth(successes, trials, p0) >= log(1 / alpha);
}

export interface ConfidenceInterval {
  readonly lower: number;
  /** Null when unbounded above. */
  readonly upper: number | null;
}

/** The Bernoulli mixture confidence sequence for a proportion, at the current sample. */
export function proportionConfidenceInterval(
  successes: number,
  trials: number,
  alpha: number,
): ConfidenceInterval {
  if (trials <= 0) return { lower: 0, upper: 1 };
  const failures = trials - successes;
  const threshold = log(1 / alpha) - logBeta(successes + 1, failures + 1);
  const pHat = successes / trials;
  // log M_n(p) decreases in p below pHat and increases above it.
  const excluded = (p: number): boolean =>
    -((successes > 0 ? successes * log(p) : 0) + (failures > 0 ? failures * log1p(-p) : 0)) >= threshold;
  const lower = successes === 0 ? 0 : bisectPredicate(0, pHat, excluded);
  const upper = successes === trials ? 1 : bisectPredicate(pHat, 1, (p) => !excluded(p));
  return { lower, upper };
}

/** z(u) of the normal-mixture boundary: the radius is z times the estimate's standard error. */
export function normalMixtureMultiplier(samples: number, alpha: number, planningSamples: number): number {
  if (!(samples > 0)) return INFINITY;
  const l = -2 * log(alpha);
  const u = ((l + log(1 + l)) * samples) / planningSamples;
  return sqrt(((2 * (1 + u)) / u) * log(sqrt(1 + u) / alpha));
}

/**
 * The point where a predicate that is monotone on [lo, hi] changes value, to within `tolerance`
 * (ample for percentages shown to one decimal and compared with limits).
 */
export function bisectPredicate(
  lo: number,
  hi: number,
  pred: (x: number) => boolean,
  tolerance = 1e-7,
): number {
  const atLo = pred(lo);
  let a = lo;
  let b = hi;
  while (b - a > tolerance * max(1, abs(a), abs(b))) {
    const mid = (a + b) / 2;
    if (pred(mid) === atLo) a = mid;
    else b = mid;
  }
  return (a + b) / 2;
}

/**
 * z of the one-sided normal mixture (Howard, Ramdas, McAuliffe, Sekhon, "Time-uniform,
 * nonparametric, nonasymptotic confidence sequences", 2021, the one-sided normal mixture
 * supermartingale): a one-sided claim ("the difference is above / below x") made when the estimate
 * is more than z standard errors past x holds at every look simultaneously with probability at least
 * 1 - alpha. The mixture puts its weight on one sign only, so a one-sided claim costs about what a
 * two-sided one at 2 alpha does (z ≈ 2.8 instead of 3.0 at its tightest for alpha = 0.05).
 *
 * `information` is how much evidence there is relative to where the sequence should be tightest
 * (1 = there). In the paper's terms u = v / rho with rho chosen for v_opt at 2 alpha, so
 * u = information * (2 log(1/(2 alpha)) + log(1 + 2 log(1/(2 alpha)))), and z solves
 *   0.5 log(4 / (1 + u)) + z² u / (2 (1 + u)) + log Phi(z sqrt(u / (1 + u))) = log(1 / alpha).
 */
export function oneSidedNormalMixtureMultiplier(information: number, alpha: number): number {
  if (!(information > 0)) return INFINITY;
  const l = 2 * log(1 / (2 * alpha));
  const u = information * (l + log(1 + l));
  const target = log(1 / alpha);
  const k = u / (1 + u);
  const g = (z: number): number =>
    0.5 * log(4 / (1 + u)) + (z * z * k) / 2 + logNormalCdf(z * sqrt(k)) - target;
  let hi = sqrt((2 / k) * (target + 0.5 * log(1 + u) + 1));
  while (g(hi) < 0) hi *= 2;
  return bisectPredicate(0, hi, (z) => g(z) >= 0, 1e-6);
}

/** log of the standard normal CDF, for z >= 0 (where it is between log 0.5 and 0). */
function logNormalCdf(z: number): number {
  return log(1 - 0.5 * erfc(z / SQRT2));
}

const SQRT2 = sqrt(2);

/** Complementary error function, fractional error below 1.2e-7 (Numerical Recipes' erfcc). */
function erfc(x: number): number {
  const z = abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
