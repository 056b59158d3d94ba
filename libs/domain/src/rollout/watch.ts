import type { GuardrailMetric, GuardrailSetting, GuardrailSettings } from '../guardrails/guardrail-settings';
import { formatNumber } from '../guardrails/guardrail-format';
import type { GuardrailReport } from '../guardrails/guardrail-report';
import { GUARDRAIL_SHORT_NAMES, SAMPLE_NOUN } from '../status/guardrail-wording';
import type { RolloutPlan } from './rollout.types';

/**
 * After 100%: the new stable version is compared with its own first period (the reference) for a
 * while. A plan's `watch` overrides the defaults; `durationSeconds: 0` turns the watch off.
 */
export interface WatchSettings {
  /** How long after completion the stable version is watched. */
  readonly durationSeconds: number;
  /** Its first period, the reference; later evidence is compared with it over windows as long. */
  readonly referenceSeconds: number;
}

const DAY_SECONDS = 24 * 3600;

/** A week, compared with the first day. */
export const DEFAULT_WATCH: WatchSettings = Object.freeze({
  durationSeconds: 7 * DAY_SECONDS,
  referenceSeconds: DAY_SECONDS,
});

export function watchOf(plan: RolloutPlan): WatchSettings {
  return { ...DEFAULT_WATCH, ...(plan.watch ?? {}) };
}

/**
 * How much worse than its own reference the stable version may get (the seed's drift rules): refusal
 * rate up more than 10 %, thumbs-down up more than 15 %, quality down — empty or broken answers up 10 %,
 * answers 30 % shorter, errors up 10 %. Latency and time to first token are left out: they move with load from day to day.
 */
export const WATCH_LIMITS: Readonly<Record<GuardrailMetric, number | null>> = Object.freeze({
  refusalRate: 0.1,
  thumbsDownRate: 0.15,
  silentFailureRate: 0.1,
  outputLengthDrop: 0.3,
  errorRate: 0.1,
  latencyP95: null,
  ttftP95: null,
  // Prices are set by people, not drift: a price change is not a regression of the stable version.
  costPerRequest: null,
});

/**
 * The guardrail settings a watch compares with: the rollout's own (sample sizes, missing-data
 * policies) with the watch's limits, and no absolute ceilings (the reference is the yardstick).
 */
export function watchGuardrails(rollout: GuardrailSettings): GuardrailSettings {
  const out = {} as Record<GuardrailMetric, GuardrailSetting>;
  for (const [metric, limit] of Object.entries(WATCH_LIMITS) as [GuardrailMetric, number | null][]) {
    const own = rollout[metric];
    out[metric] =
      limit === null
        ? { ...own, enabled: false }
        : { ...own, enabled: own.enabled, maxRelativeIncrease: limit, absoluteCeiling: null };
  }
  return out;
}

/** Half-open time windows `[from, to)` of evidence buckets. */
export interface TimeWindow {
  readonly from: Date;
  readonly to: Date;
}

export interface WatchWindows {
  readonly reference: TimeWindow;
  /** The latest window as long as the reference, after it; null until the reference is complete. */
  readonly recent: TimeWindow | null;
  /** The watch is over: the stable version passed it. */
  readonly over: boolean;
}

export function watchWindows(startedAt: Date, settings: WatchSettings, now: Date): WatchWindows {
  const start = startedAt.getTime();
  const referenceEnd = start + settings.referenceSeconds * 1000;
  const reference = { from: startedAt, to: new Date(referenceEnd) };
  const over = now.getTime() >= start + settings.durationSeconds * 1000;
  if (now.getTime() < referenceEnd) return { reference, recent: null, over };
  const from = Math.max(referenceEnd, now.getTime() - settings.referenceSeconds * 1000);
  return { reference, recent: { from: new Date(from), to: now }, over };
}

export type WatchOutcome = 'watching' | 'regressed' | 'passed' | 'inconclusive';

/** A guardrail of the watch short of its minimum samples in the reference or in the latest window. */
export interface WatchShortfall {
  readonly metric: GuardrailMetric;
  readonly reference: number;
  readonly recent: number;
  readonly minSamples: number;
}

/**
 * The guardrails whose comparison rests on fewer than their `minSamples` (the reference is the
 * report's baseline arm, the latest window its candidate arm): they cannot say "no regression".
 */
export function watchShortfalls(report: GuardrailReport): WatchShortfall[] {
  return report.results
    .filter((g) => g.samples.baseline < g.minSamples || g.samples.candidate < g.minSamples)
    .map((g) => ({
      metric: g.metric,
      reference: g.samples.baseline,
      recent: g.samples.candidate,
      minSamples: g.minSamples,
    }));
}

/**
 * A regression is what the guardrails would call Failed with the reference as the baseline; the
 * always-valid intervals make it safe to ask on every check. Passing needs, at the end of the watch,
 * a last comparison in which every guardrail had its minimum samples in both windows: a watch that
 * saw too little evidence is `inconclusive`, never a pass.
 */
export function watchOutcome(windows: WatchWindows, report: GuardrailReport | null): WatchOutcome {
  if (report?.verdict === 'Failed') return 'regressed';
  if (!windows.over) return 'watching';
  if (report === null || report.results.length === 0) return 'inconclusive';
  return watchShortfalls(report).length === 0 ? 'passed' : 'inconclusive';
}

/**
 * Plain words for an inconclusive watch, per short guardrail the fewer of its two windows:
 * "refusals: 120 of 700 answers; thumbs-down: 3 of 300 ratings".
 */
export function describeWatchShortfalls(shortfalls: readonly WatchShortfall[]): string {
  return shortfalls
    .map(
      (s) =>
        `${GUARDRAIL_SHORT_NAMES[s.metric]}: ${formatNumber(Math.min(s.reference, s.recent))} of ${formatNumber(s.minSamples)} ${SAMPLE_NOUN[s.metric]}`,
    )
    .join('; ');
}
