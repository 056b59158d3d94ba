import type { RolloutPlan } from '../rollout/rollout.types';
import { EVENT_NOTIFICATION_KIND, kindOfEvent, type KindInput, subscribes } from './notification-kinds';

const plan: RolloutPlan = {
  steps: [
    { type: 'shadow', sampleRate: 1, minDurationSeconds: 60 },
    { type: 'setWeight', weight: 20, minDurationSeconds: 60 },
    // An approval gate (issue 11's `pause` step without a duration), then a timed pause.
    { type: 'pause' } as unknown as RolloutPlan['steps'][number],
    { type: 'setWeight', weight: 100, minDurationSeconds: 60 },
    { type: 'pause', durationSeconds: 600 } as unknown as RolloutPlan['steps'][number],
  ],
};

describe('kindOfEvent', () => {
  it.each<[string, KindInput, string]>([
    [
      'a start',
      { type: 'Started', toPhase: 'Progressing', evidence: { fromStep: -1, toStep: 0 } },
      'started',
    ],
    ['a retry starts again', { type: 'Retried', toPhase: 'Progressing', evidence: { toStep: 0 } }, 'started'],
    [
      'an automatic step',
      { type: 'StepAdvanced', toPhase: 'Progressing', evidence: { fromStep: 0, toStep: 1 } },
      'advanced',
    ],
    [
      'a manual promote to the next step',
      { type: 'Promoted', toPhase: 'Progressing', evidence: { fromStep: 0, toStep: 1 } },
      'advanced',
    ],
    [
      'a promote at the last step completes the rollout',
      { type: 'Promoted', toPhase: 'Healthy', evidence: { fromStep: 3, toStep: 3 } },
      'completed',
    ],
    [
      'arriving at an approval gate waits for approval',
      { type: 'StepAdvanced', toPhase: 'Progressing', evidence: { fromStep: 1, toStep: 2 } },
      'waiting_for_approval',
    ],
    [
      'arriving at a timed pause is just an advance',
      { type: 'StepAdvanced', toPhase: 'Progressing', evidence: { fromStep: 3, toStep: 4 } },
      'advanced',
    ],
    [
      'an approval leaves the gate',
      { type: 'Approved', toPhase: 'Progressing', evidence: { fromStep: 2, toStep: 3 } },
      'advanced',
    ],
    ['a pause', { type: 'Paused', toPhase: 'Paused', evidence: { fromStep: 2, toStep: 2 } }, 'paused'],
    [
      'a resume at a gate is not a new wait',
      { type: 'Resumed', toPhase: 'Progressing', evidence: { fromStep: 2, toStep: 2 } },
      'resumed',
    ],
    ['an operator rollback', { type: 'RolledBack', toPhase: 'RolledBack', evidence: {} }, 'rolled_back'],
    ['an automatic rollback', { type: 'AutoRolledBack', toPhase: 'RolledBack', evidence: {} }, 'rolled_back'],
    [
      'a deadline rollback',
      { type: 'DeadlineRolledBack', toPhase: 'RolledBack', evidence: {} },
      'rolled_back',
    ],
    ['completion', { type: 'Completed', toPhase: 'Healthy', evidence: {} }, 'completed'],
    ['a revert after completion', { type: 'Reverted', toPhase: 'Healthy', evidence: {} }, 'rolled_back'],
    ['a regression while watched', { type: 'WatchRegressed', toPhase: null, evidence: {} }, 'regressed'],
    ['a watch passed', { type: 'WatchPassed', toPhase: null, evidence: {} }, 'watch_passed'],
    [
      'a watch without enough evidence',
      { type: 'WatchInconclusive', toPhase: null, evidence: {} },
      'watch_inconclusive',
    ],
    ['promote to the end', { type: 'PromotedFull', toPhase: 'Healthy', evidence: {} }, 'completed'],
    ['a deadline passed on hold', { type: 'ProgressDeadlineExceeded', toPhase: null, evidence: {} }, 'stuck'],
    ['flag drift', { type: 'FlagDriftDetected', toPhase: null, evidence: {} }, 'flag_drift'],
    [
      'a failing flag publish',
      { type: 'FlagPublishFailed', toPhase: null, evidence: {} },
      'flag_publish_failed',
    ],
    [
      'a recovered flag publish',
      { type: 'FlagPublishRecovered', toPhase: null, evidence: {} },
      'flag_publish_recovered',
    ],
    ['creation', { type: 'Created', toPhase: 'Pending', evidence: { plan } }, 'created'],
    ['a type the table does not know yet', { type: 'SomethingNew', toPhase: null, evidence: null }, 'other'],
  ])('maps %s', (_name, event, kind) => {
    expect(kindOfEvent(event, plan)).toBe(kind);
  });

  it('maps every event type the control plane writes today', () => {
    for (const type of [
      'Created',
      'Started',
      'Promoted',
      'PromotedFull',
      'Paused',
      'Resumed',
      'RolledBack',
      'AutoRolledBack',
      'Retried',
      'StepAdvanced',
      'Completed',
      'FlagPublishFailed',
      'FlagPublishRecovered',
    ])
      expect(EVENT_NOTIFICATION_KIND[type]).toBeDefined();
  });
});

describe('subscribes', () => {
  it.each<[string, string[], string, boolean]>([
    ['no kinds means every kind', [], 'rolled_back', true],
    ['no kinds includes unknown types', [], 'other', true],
    ['a listed kind', ['rolled_back', 'completed'], 'completed', true],
    ['an unlisted kind', ['rolled_back'], 'advanced', false],
    ['unknown types only when asked for', ['rolled_back'], 'other', false],
  ])('%s', (_name, kinds, kind, wanted) => {
    expect(subscribes(kinds, kind as never)).toBe(wanted);
  });
});
