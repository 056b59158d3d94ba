import { DEFAULT_PLAN } from '../rollout/rollout-plan';
import type { RolloutPlan } from '../rollout/rollout.types';
import {
  buildNotification,
  type NotifiableEvent,
  slackMessage,
  statusPageUrl,
  testNotification,
} from './notification-message';

const plan: RolloutPlan = {
  steps: [
    { type: 'shadow', sampleRate: 1, minDurationSeconds: 60 },
    { type: 'setWeight', weight: 20, minDurationSeconds: 60 },
    { type: 'setWeight', weight: 50, minDurationSeconds: 60 },
  ],
};
const rollout = {
  id: '3f2c1a9e-0000-4000-8000-000000000001',
  model: 'support-chat',
  baseline: 'v1',
  candidate: 'v2-int8',
  plan,
};
const autoRollback: NotifiableEvent = {
  id: 42n,
  at: new Date('2026-12-01T10:00:00.000Z'),
  type: 'AutoRolledBack',
  toPhase: 'RolledBack',
  stepIndex: 2,
  actor: 'aviary-scheduler',
  automatic: true,
  reason: null,
  message: 'Rolled back at 50%: Failed: refusal rate …',
  evidence: {
    fromStep: 2,
    toStep: 2,
    guardrails: [
      {
        verdict: 'Failed',
        proven: false,
        reason:
          'refusal rate 42.9% vs 2.4% baseline, +1700% (interval +60%..+15347%), limit +50%: exceeds the limit',
      },
    ],
  },
  rollout,
};

describe('buildNotification', () => {
  it('sends a default-plan step that could not decide by its deadline as a rollback, saying why', () => {
    const deadline: NotifiableEvent = {
      ...autoRollback,
      type: 'DeadlineRolledBack',
      stepIndex: 1,
      message: 'Rolled back: the step at 5% passed its progress deadline of 96h 0m (analysis Inconclusive)',
      evidence: { fromStep: 1, toStep: 1, verdict: 'Inconclusive' },
      rollout: { ...rollout, plan: DEFAULT_PLAN },
    };

    expect(buildNotification(deadline, null)).toMatchObject({
      kind: 'rolled_back',
      title: 'Rolled back',
      message:
        'Rolled back at 5%: the step passed its progress deadline of 4d without enough evidence to decide, and was not on track to decide within its 8d grace',
      tone: 'bad',
      rollout: { phase: 'RolledBack', step: { index: 1, description: '5%' } },
    });
  });

  it("says a rollback in the status page's plain words, with where it stood and the link", () => {
    expect(buildNotification(autoRollback, 'https://aviary.example.com/')).toEqual({
      v: 1,
      kind: 'rolled_back',
      title: 'Rolled back',
      message:
        'Rolled back at 50%: refusal rate 42.9% vs 2.4% baseline, +1700% (interval +60%..+15347%), limit +50%: exceeds the limit',
      detail: 'Rolled back at 50%: Failed: refusal rate …',
      tone: 'bad',
      model: 'support-chat',
      rollout: {
        id: rollout.id,
        phase: 'RolledBack',
        step: { index: 2, total: 3, description: '50%' },
        baseline: 'v1',
        candidate: 'v2-int8',
      },
      event: {
        id: '42',
        type: 'AutoRolledBack',
        at: '2026-12-01T10:00:00.000Z',
        actor: 'aviary-scheduler',
        automatic: true,
        reason: null,
      },
      statusUrl: `https://aviary.example.com/status/rollouts/${rollout.id}`,
    });
  });

  it('carries no link without a public URL', () => {
    expect(buildNotification(autoRollback, null).statusUrl).toBeNull();
  });

  it('has no step before the rollout started', () => {
    const created = buildNotification(
      { ...autoRollback, type: 'Created', toPhase: 'Pending', stepIndex: null, evidence: {} },
      null,
    );
    expect(created.rollout?.step).toEqual({ index: null, total: 3, description: null });
    expect(created.kind).toBe('created');
  });
});

describe('statusPageUrl', () => {
  it.each<[string | null, string | null]>([
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080/status/rollouts/r1'],
    ['https://aviary.example.com/base/', 'https://aviary.example.com/base/status/rollouts/r1'],
    [null, null],
  ])('under %s', (base, url) => {
    expect(statusPageUrl(base, 'r1')).toBe(url);
  });
});

describe('slackMessage', () => {
  it('is an incoming-webhook message: text, a section, context and a status-page button', () => {
    const msg = slackMessage(buildNotification(autoRollback, 'https://aviary.example.com'));
    expect(msg.text).toBe(
      ':rotating_light: Rolled back: support-chat — Rolled back at 50%: refusal rate 42.9% vs 2.4% baseline, +1700% (interval +60%..+15347%), limit +50%: exceeds the limit',
    );
    expect(msg.blocks).toEqual([
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: ':rotating_light: *Rolled back: support-chat*\nRolled back at 50%: refusal rate 42.9% vs 2.4% baseline, +1700% (interval +60%..+15347%), limit +50%: exceeds the limit',
        },
      },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: 'v2-int8 vs v1 · step 3/3 (50%) · RolledBack · rollout 3f2c1a9e · by Aviary',
          },
        ],
      },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: 'Open status page' },
            url: `https://aviary.example.com/status/rollouts/${rollout.id}`,
          },
        ],
      },
    ]);
  });

  it("escapes Slack's control characters and keeps a long reason within Slack's limit", () => {
    const msg = slackMessage(
      buildNotification(
        {
          ...autoRollback,
          type: 'RolledBack',
          automatic: false,
          actor: 'alice',
          reason: `<!channel> refusals & ${'x'.repeat(4000)}`,
        },
        null,
      ),
    );
    const section = msg.blocks[0] as { text: { text: string } };
    expect(section.text.text).toContain('&lt;!channel&gt; refusals &amp;');
    expect(section.text.text.length).toBeLessThanOrEqual(3000);
    expect(msg.blocks).toHaveLength(2);
    expect(JSON.stringify(msg.blocks[1])).toContain('by alice');
  });

  it('words the test notification without a rollout', () => {
    const msg = slackMessage(testNotification('ops-channel', 'admin'));
    expect(msg.text).toBe(
      ':information_source: Test notification — Test notification for destination ops-channel, sent by admin: Aviary can reach this receiver',
    );
    expect(msg.blocks).toHaveLength(1);
  });
});
