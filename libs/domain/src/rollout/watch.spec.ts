import { DEFAULT_GUARDRAILS, resolveGuardrails } from '../guardrails/guardrail-settings';
import { validatePlan } from './rollout-plan';
import {
  DEFAULT_WATCH,
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

describe(watchOutcome.name, () => {
  const watching = watchWindows(T0, WEEK_DAY, at(2 * 86_400));
  const over = watchWindows(T0, WEEK_DAY, at(8 * 86_400));
  // prettier-ignore
  it.each<[string, ReturnType<typeof watchWindows>, 'Successful' | 'Failed' | 'Inconclusive' | null, string]>([
    ['a Failed comparison is a regression', watching, 'Failed', 'regressed'],
    ['a Failed comparison is a regression at the very end too', over, 'Failed', 'regressed'],
    ['keeps watching while within the limits', watching, 'Successful', 'watching'],
    ['keeps watching without enough evidence', watching, 'Inconclusive', 'watching'],
    ['keeps watching during the reference period', watchWindows(T0, WEEK_DAY, at(10)), null, 'watching'],
    ['passes at the end without a regression', over, 'Inconclusive', 'passed'],
  ])('%s', (_name, windows, verdict, outcome) => {
    expect(watchOutcome(windows, verdict)).toBe(outcome);
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
