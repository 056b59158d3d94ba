import type { RolloutPhase, RolloutPlan } from '../rollout/rollout.types';
import { stepTimeline, type TimelineEvent } from './step-timeline';

const plan: RolloutPlan = {
  steps: [
    { type: 'shadow', sampleRate: 0.5, minDurationSeconds: 60 },
    { type: 'setWeight', weight: 20, minDurationSeconds: 60 },
    { type: 'setWeight', weight: 100, minDurationSeconds: 60 },
    { type: 'bake', minDurationSeconds: 60 },
  ],
};
const t = (s: number) => new Date(Date.UTC(2026, 10, 30, 9, 0, s));
const ev = (
  type: string,
  s: number,
  fromStep: number,
  toStep: number,
  toPhase: RolloutPhase,
): TimelineEvent => ({
  type,
  at: t(s),
  fromStep,
  toStep,
  toPhase,
});
const started = ev('Started', 1, -1, 0, 'Progressing');
const advanced = ev('StepAdvanced', 10, 0, 1, 'Progressing');

describe('stepTimeline', () => {
  it.each<[string, RolloutPhase, number, TimelineEvent[], string[]]>([
    [
      'a pending rollout has every step ahead of it',
      'Pending',
      -1,
      [],
      ['upcoming', 'upcoming', 'upcoming', 'upcoming'],
    ],
    [
      'a progressing rollout: passed, current, ahead',
      'Progressing',
      1,
      [started, advanced],
      ['done', 'current', 'upcoming', 'upcoming'],
    ],
    [
      'a paused rollout shows where it waits',
      'Paused',
      1,
      [started, advanced],
      ['done', 'paused', 'upcoming', 'upcoming'],
    ],
    [
      'a rolled-back rollout stops where it was rolled back',
      'RolledBack',
      1,
      [started, advanced, ev('AutoRolledBack', 20, 1, 1, 'RolledBack')],
      ['done', 'stopped', 'upcoming', 'upcoming'],
    ],
    [
      'promote-to-the-end skips the steps it jumped over',
      'Healthy',
      3,
      [started, ev('PromotedFull', 5, 0, 3, 'Healthy')],
      ['done', 'skipped', 'skipped', 'done'],
    ],
  ])('%s', (_name, phase, stepIndex, events, statuses) => {
    expect(stepTimeline(plan, { phase, stepIndex }, events).map((s) => s.status)).toEqual(statuses);
  });

  it('gives each step the time it was entered and left', () => {
    const steps = stepTimeline(plan, { phase: 'Progressing', stepIndex: 1 }, [started, advanced]);
    expect(steps[0]).toMatchObject({ label: 'shadow (50% sampled)', startedAt: t(1), endedAt: t(10) });
    expect(steps[1]).toMatchObject({ label: '20%', startedAt: t(10), endedAt: null });
    expect(steps[2]).toMatchObject({ startedAt: null, endedAt: null });
  });

  it('ends the step a rollback happened in at the rollback', () => {
    const steps = stepTimeline(plan, { phase: 'RolledBack', stepIndex: 1 }, [
      started,
      advanced,
      ev('RolledBack', 30, 1, 1, 'RolledBack'),
    ]);
    expect(steps[1]).toMatchObject({ startedAt: t(10), endedAt: t(30) });
  });

  it('after a retry shows only the new attempt', () => {
    const steps = stepTimeline(plan, { phase: 'Progressing', stepIndex: 0 }, [
      started,
      advanced,
      ev('AutoRolledBack', 20, 1, 1, 'RolledBack'),
      ev('Retried', 40, 1, 0, 'Progressing'),
    ]);
    expect(steps.map((s) => [s.status, s.startedAt, s.endedAt])).toEqual([
      ['current', t(40), null],
      ['upcoming', null, null],
      ['upcoming', null, null],
      ['upcoming', null, null],
    ]);
  });
});
