import { DEFAULT_PLAN, compressedPlan, type RolloutPlan } from '@aviary/domain';
import { rolloutView, routerKeysTable, type RolloutView, type RouterKeyView } from './format';

const view = (plan: RolloutPlan): RolloutView => ({
  id: '3f2c1a9e-0000-4000-8000-000000000001',
  model: { name: 'support-chat' },
  baseline: { label: 'v1' },
  candidate: { label: 'v2' },
  phase: 'Pending',
  step: {
    index: -1,
    total: plan.steps.length,
    description: null,
    startedAt: null,
    minDurationElapsesAt: null,
  },
  split: { candidateWeight: 0, shadowSampleRate: null },
  plan,
  message: null,
  version: 1,
  createdBy: 'alice',
  createdAt: '2026-12-01T10:00:00.000Z',
  updatedAt: '2026-12-01T10:00:00.000Z',
});
const time = { now: Date.parse('2026-12-01T10:00:00.000Z'), utc: true };

describe(rolloutView.name, () => {
  it('lists each default step with its minimum and its rollback deadline', () => {
    const text = rolloutView(view(DEFAULT_PLAN), time);

    expect(text).toContain('   1  shadow (100% sampled), at least 3d, rolls back if undecided after 6d');
    expect(text).toContain(
      '   2  5%, at least 2d, rolls back if undecided after 4d (up to 8d later while on track to decide)',
    );
    expect(text).toContain('   6  bake at 100%, at least 2d, rolls back if undecided after 4d');
  });

  it('says a hold deadline holds, and prints no deadline for a plan without one', () => {
    const hold: RolloutPlan = {
      steps: [
        {
          type: 'setWeight',
          weight: 100,
          minDurationSeconds: 3600,
          maxDurationSeconds: 7200,
          onDeadline: 'hold',
        },
      ],
    };

    expect(rolloutView(view(hold), time)).toContain(
      '   1  100%, at least 60m, holds and says so if undecided after 2h',
    );
    expect(rolloutView(view(compressedPlan(30)), time)).not.toContain('undecided');
  });
});

describe(routerKeysTable.name, () => {
  const k = (over: Partial<RouterKeyView> = {}): RouterKeyView =>
    Object.assign(
      {
        id: 'k-1',
        name: 'support-bot',
        prefix: 'avr_abcd',
        models: null,
        requestsPerMinute: null,
        tokensPerDay: 2_000_000,
        createdAt: '2026-12-02T10:00:00Z',
        revokedAt: null,
      },
      over,
    );
  it.each([
    [
      'with a budget',
      k({ usedToday: { day: '2026-12-02', tokens: 1_200_000, requests: 900 } }),
      '1,200,000 (60%)',
    ],
    [
      'without a budget',
      k({ tokensPerDay: null, usedToday: { day: '2026-12-02', tokens: 42, requests: 1 } }),
      ' 42 ',
    ],
    ['from an older control plane', k(), 'USED TODAY'],
  ])('shows what a key used today, %s', (_, key, shown) => {
    expect(routerKeysTable([key], { utc: true, now: Date.parse('2026-12-02T12:00:00Z') })).toContain(shown);
  });
});
