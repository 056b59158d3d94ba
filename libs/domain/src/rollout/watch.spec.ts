import { DEFAULT_GUARDRAILS, resolveGuardrails } from '../guardrails/guardrail-settings';
import { validatePlan } from './rollout-plan';
import { emptyArmStats, type ArmStats } from '../guardrails/arm-stats';
import { evaluateGuardrails } from '../guardrails/guardrail-evaluator';
import type { GuardrailReport } from '../guardrails/guardrail-report';
import {
  DEFAULT_WATCH,
  describeWatchShortfalls,
  watchShortfalls,
  watchGuardrails,
  watchOf,
  watchOutcome,
  watchWindows,
  type WatchSettings,
} from './watch';

const T0 = new Date('2026-12-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const WEEK_DAY: WatchSettings = { durationSeconds: 7 * 86_400, referenceSeconds: 86_400 };

describe(watchWindows.name, () => {
  // prettier-ignore
  it.each<[string, number, { recent: [number, number] | null; over: boolean }]>([
    ['has no recent window during the reference day', 3600, { recent: null, over: false }],
    ['compares the first day after it with the reference', 86_400 + 3600, { recent: [86_400, 86_400 + 3600], over: false }],
    ['slides a day-long window on later days', 3 * 86_400, { recent: [2 * 86_400, 3 * 86_400], over: false }],
    ['is over after the watch duration', 7 * 86_400, { recent: [6 * 86_400, 7 * 86_400], over: true }],
  ])('%s', (_name, now, expected) => {
    const w = watchWindows(T0, WEEK_DAY, at(now));

    expect(w.reference).toEqual({ from: T0, to: at(86_400) });
    expect(w.recent && [w.recent.from, w.recent.to]).toEqual(expected.recent && expected.recent.map(at));
    expect(w.over).toBe(expected.over);
  });
});

/** The watch's settings with only the refusal guardrail (700 answers at least), as the watcher builds them. */
const REFUSALS_ONLY = watchGuardrails(
  resolveGuardrails({
    thumbsDownRate: { enabled: false },
    errorRate: { enabled: false },
    silentFailureRate: { enabled: false },
    outputLengthDrop: { enabled: false },
  }),
);
/** One window of the stable version's evidence: `answers` answers refusing at `refusalRate`. */
function windowOf(answers: number, refusalRate: number): ArmStats {
  const a = emptyArmStats();
  a.requests = answers;
  a.refusals = Math.round(answers * refusalRate);
  a.usefulAnswers = answers - a.refusals;
  return a;
}
const compare = (reference: ArmStats, recent: ArmStats): GuardrailReport =>
  evaluateGuardrails(REFUSALS_ONLY, reference, recent);

describe(watchOutcome.name, () => {
  const watching = watchWindows(T0, WEEK_DAY, at(2 * 86_400));
  const over = watchWindows(T0, WEEK_DAY, at(8 * 86_400));
  const quiet = compare(windowOf(20_000, 0.04), windowOf(20_000, 0.04));
  const worse = compare(windowOf(20_000, 0.04), windowOf(20_000, 0.08));
  // prettier-ignore
  it.each<[string, ReturnType<typeof watchWindows>, GuardrailReport | null, string]>([
    ['a Failed comparison is a regression', watching, worse, 'regressed'],
    ['a Failed comparison is a regression at the very end too', over, worse, 'regressed'],
    ['keeps watching while within the limits', watching, quiet, 'watching'],
    ['keeps watching without enough evidence', watching, compare(windowOf(120, 0.04), windowOf(120, 0.04)), 'watching'],
    ['keeps watching during the reference period', watchWindows(T0, WEEK_DAY, at(10)), null, 'watching'],
    ['passes at the end when every guardrail had its minimum in both windows', over, quiet, 'passed'],
    ['is inconclusive at the end when the latest window is short of a minimum', over, compare(windowOf(20_000, 0.04), windowOf(120, 0.04)), 'inconclusive'],
    ['is inconclusive at the end when the reference is short of a minimum', over, compare(windowOf(699, 0.04), windowOf(20_000, 0.04)), 'inconclusive'],
    ['is inconclusive at the end when nothing could be compared', over, null, 'inconclusive'],
  ])('%s', (_name, windows, report, outcome) => {
    expect(watchOutcome(windows, report)).toBe(outcome);
  });
});

describe(describeWatchShortfalls.name, () => {
  it('says, per short guardrail, the fewer of its two windows against its minimum', () => {
    const report = compare(windowOf(20_000, 0.04), windowOf(120, 0.04));

    expect(watchShortfalls(report)).toEqual([
      { metric: 'refusalRate', reference: 20_000, recent: 120, minSamples: 700 },
    ]);
    expect(describeWatchShortfalls(watchShortfalls(report))).toBe('refusals: 120 of 700 answers');
  });
});

describe(watchGuardrails.name, () => {
  it('uses the seed’s drift limits with the rollout’s sample sizes, and leaves latency out', () => {
    const settings = watchGuardrails(
      resolveGuardrails({ refusalRate: { minSamples: 20, maxRelativeIncrease: 0.5 } }),
    );

    expect(settings.refusalRate).toMatchObject({ enabled: true, maxRelativeIncrease: 0.1, minSamples: 20 });
    expect(settings.thumbsDownRate).toMatchObject({ maxRelativeIncrease: 0.15 });
    expect(settings.silentFailureRate).toMatchObject({ maxRelativeIncrease: 0.1 });
    expect(settings.errorRate).toMatchObject({ maxRelativeIncrease: 0.1, absoluteCeiling: null });
    expect(settings.latencyP95.enabled).toBe(false);
    expect(settings.outputLengthDrop.minSamples).toBe(DEFAULT_GUARDRAILS.outputLengthDrop.minSamples);
  });
});

describe(watchOf.name, () => {
  it('takes the defaults, a week against the first day, and a plan’s overrides', () => {
    const steps = [{ type: 'setWeight' as const, weight: 100, minDurationSeconds: 0 }];
    expect(watchOf({ steps })).toEqual(DEFAULT_WATCH);
    expect(watchOf({ steps, watch: { durationSeconds: 600 } })).toEqual({
      durationSeconds: 600,
      referenceSeconds: 86_400,
    });
  });

  // prettier-ignore
  it.each<[string, { durationSeconds?: number; referenceSeconds?: number }, string | null]>([
    ['accepts a short watch for a demo', { durationSeconds: 120, referenceSeconds: 20 }, null],
    ['accepts turning it off', { durationSeconds: 0 }, null],
    ['refuses a reference as long as the watch', { durationSeconds: 600 }, 'watch.referenceSeconds'],
    ['refuses fractional seconds', { durationSeconds: 1.5, referenceSeconds: 1 }, 'watch.durationSeconds'],
  ])('%s', (_name, watch, path) => {
    const issues = validatePlan({ steps: [{ type: 'setWeight', weight: 100, minDurationSeconds: 0 }], watch });
    expect(issues.map((i) => i.path)).toEqual(path ? [path] : []);
  });
});
