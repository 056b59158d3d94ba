import type { RolloutPlan } from '../rollout/rollout.types';
import { describeStep } from '../rollout/traffic-split';
import { type DecisionRecord, type DecisionTone, describeDecision } from '../status/decision-log';
import { kindOfEvent, type NotificationKind } from './notification-kinds';

/** A decision-log entry with the rollout it belongs to, as the dispatcher reads it. */
export interface NotifiableEvent extends DecisionRecord {
  readonly id: bigint | string;
  readonly at: Date;
  readonly toPhase: string | null;
  readonly stepIndex: number | null;
  readonly rollout: {
    readonly id: string;
    readonly model: string;
    readonly baseline: string;
    readonly candidate: string;
    readonly plan: RolloutPlan;
  };
}

/**
 * The generic webhook body (version 1). Phase and step are the ones the event left the rollout in,
 * not the rollout's state when the notification is sent (it may have moved on since).
 */
export interface NotificationPayload {
  readonly v: 1;
  /** `test` only for the test notification of `POST …/destinations/{id}/test`. */
  readonly kind: NotificationKind | 'test';
  readonly title: string;
  /** Plain words, as on the status page: "Rolled back at 50%: refusal rate 42.9% vs 2.4% …". */
  readonly message: string;
  /** The technical summary behind the message (every guardrail), or null. */
  readonly detail: string | null;
  readonly tone: DecisionTone;
  readonly model: string;
  readonly rollout: {
    readonly id: string;
    readonly phase: string | null;
    readonly step: {
      readonly index: number | null;
      readonly total: number;
      readonly description: string | null;
    };
    readonly baseline: string;
    readonly candidate: string;
  } | null;
  readonly event: {
    readonly id: string;
    readonly type: string;
    readonly at: string;
    readonly actor: string;
    readonly automatic: boolean;
    readonly reason: string | null;
  } | null;
  /** The rollout's status page (needs AVIARY_PUBLIC_URL); null when no public URL is configured. */
  readonly statusUrl: string | null;
}

export const NOTIFICATION_TITLES: Readonly<Record<NotificationPayload['kind'], string>> = {
  created: 'Rollout created',
  started: 'Rollout started',
  advanced: 'Step advanced',
  waiting_for_approval: 'Waiting for approval',
  paused: 'Rollout paused',
  resumed: 'Rollout resumed',
  rolled_back: 'Rolled back',
  completed: 'Rollout completed',
  stuck: 'Rollout stuck',
  flag_drift: 'Flag drift',
  flag_publish_failed: 'Flag publishing failing',
  flag_publish_recovered: 'Flag publishing recovered',
  regressed: 'Regressed after completion',
  watch_passed: 'Watch passed',
  watch_inconclusive: 'Watch inconclusive',
  other: 'Rollout update',
  test: 'Test notification',
};

/** The status page of a rollout under a public base URL (`https://aviary.example.com`), or null. */
export function statusPageUrl(publicUrl: string | null, rolloutId: string): string | null {
  return publicUrl
    ? `${publicUrl.replace(/\/+$/, '')}/status/rollouts/${encodeURIComponent(rolloutId)}`
    : null;
}

export function buildNotification(event: NotifiableEvent, publicUrl: string | null): NotificationPayload {
  const r = event.rollout;
  const kind = kindOfEvent(event, r.plan);
  const line = describeDecision(event, r.plan);
  const step = event.stepIndex !== null && event.stepIndex >= 0 ? r.plan.steps[event.stepIndex] : undefined;
  return {
    v: 1,
    kind,
    title: NOTIFICATION_TITLES[kind],
    message: line.headline,
    detail: line.detail !== line.headline ? line.detail : null,
    tone: line.tone,
    model: r.model,
    rollout: {
      id: r.id,
      phase: event.toPhase,
      step: {
        index: event.stepIndex,
        total: r.plan.steps.length,
        description: step ? (describeStep(step) ?? null) : null,
      },
      baseline: r.baseline,
      candidate: r.candidate,
    },
    event: {
      id: String(event.id),
      type: event.type,
      at: event.at.toISOString(),
      actor: event.actor,
      automatic: event.automatic,
      reason: event.reason,
    },
    statusUrl: statusPageUrl(publicUrl, r.id),
  };
}

/** What `POST …/destinations/{id}/test` sends: the same shape, no rollout behind it. */
export function testNotification(destination: string, actor: string): NotificationPayload {
  return {
    v: 1,
    kind: 'test',
    title: NOTIFICATION_TITLES.test,
    message: `Test notification for destination ${destination}, sent by ${actor}: Aviary can reach this receiver`,
    detail: null,
    tone: 'neutral',
    model: '',
    rollout: null,
    event: null,
    statusUrl: null,
  };
}

/** Slack's limit for a section's text; longer texts are refused with 400 invalid_blocks. */
const SLACK_SECTION_MAX = 3000;
const TONE_EMOJI: Readonly<Record<DecisionTone, string>> = {
  good: ':white_check_mark:',
  bad: ':rotating_light:',
  warn: ':warning:',
  neutral: ':information_source:',
};

/** Slack mrkdwn treats &, < and > as control characters. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** An incoming-webhook message: `text` for notifications and old clients, `blocks` for the channel. */
export function slackMessage(p: NotificationPayload): { text: string; blocks: unknown[] } {
  const subject = p.model ? `${p.title}: ${p.model}` : p.title;
  const text = `${TONE_EMOJI[p.tone]} ${subject} — ${p.message}`;
  const context: string[] = [];
  if (p.rollout) {
    context.push(`${p.rollout.candidate} vs ${p.rollout.baseline}`);
    if (p.rollout.step.index !== null && p.rollout.step.index >= 0)
      context.push(
        `step ${p.rollout.step.index + 1}/${p.rollout.step.total}${p.rollout.step.description ? ` (${p.rollout.step.description})` : ''}`,
      );
    if (p.rollout.phase) context.push(p.rollout.phase);
    context.push(`rollout ${p.rollout.id.slice(0, 8)}`);
  }
  if (p.event) context.push(p.event.automatic ? 'by Aviary' : `by ${p.event.actor}`);
  const blocks: unknown[] = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: cut(
          `${TONE_EMOJI[p.tone]} *${slackEscape(subject)}*\n${slackEscape(p.message)}`,
          SLACK_SECTION_MAX,
        ),
      },
    },
  ];
  if (context.length > 0)
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(context.join(' · ')) }] });
  if (p.statusUrl)
    blocks.push({
      type: 'actions',
      elements: [
        { type: 'button', text: { type: 'plain_text', text: 'Open status page' }, url: p.statusUrl },
      ],
    });
  return { text: cut(text, SLACK_SECTION_MAX), blocks };
}
