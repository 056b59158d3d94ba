import type { RolloutPlan } from '../rollout/rollout.types';

/**
 * What a notification is about. Destinations subscribe to kinds, not to event types: the decision
 * log's types are an implementation detail that grows, the kinds are the contract with receivers.
 */
export const NOTIFICATION_KINDS = [
  'created',
  'started',
  'advanced',
  'waiting_for_approval',
  'paused',
  'resumed',
  'rolled_back',
  'completed',
  'stuck',
  'flag_drift',
  'flag_publish_failed',
  'flag_publish_recovered',
  /** After completion: the new stable version regressed against its own first period (revert?). */
  'regressed',
  'watch_passed',
  /** The watch ended without the evidence to say either way (too few answers after promotion). */
  'watch_inconclusive',
  /** A decision-log type this table does not know yet (see UNKNOWN_EVENT_KIND). */
  'other',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/**
 * Decision-log event type → notification kind: the one place a new event type is mapped, one line
 * each. `kindOfEvent` refines two cases the type alone cannot tell: any event that leaves the
 * rollout Healthy is `completed` (a promote at the last step), and arriving at an approval gate (a
 * `pause` step) is `waiting_for_approval`.
 */
export const EVENT_NOTIFICATION_KIND: Readonly<Record<string, NotificationKind>> = {
  Created: 'created',
  Started: 'started',
  Retried: 'started',
  StepAdvanced: 'advanced',
  Promoted: 'advanced',
  Approved: 'advanced',
  Paused: 'paused',
  Resumed: 'resumed',
  RolledBack: 'rolled_back',
  AutoRolledBack: 'rolled_back',
  DeadlineRolledBack: 'rolled_back',
  Reverted: 'rolled_back',
  Completed: 'completed',
  PromotedFull: 'completed',
  ProgressDeadlineExceeded: 'stuck',
  ProgressDeadlineExtended: 'stuck',
  FlagDriftDetected: 'flag_drift',
  FlagDriftRepaired: 'flag_drift',
  FlagPublishFailed: 'flag_publish_failed',
  FlagPublishRecovered: 'flag_publish_recovered',
  WatchRegressed: 'regressed',
  WatchPassed: 'watch_passed',
  WatchInconclusive: 'watch_inconclusive',
};

/**
 * An event type missing from the table is still delivered, as `other`, to destinations that
 * subscribe to every kind (or to `other`): a new kind of decision is never silently dropped.
 */
export const UNKNOWN_EVENT_KIND: NotificationKind = 'other';

/** The parts of a decision-log entry the mapping looks at. */
export interface KindInput {
  readonly type: string;
  readonly toPhase: string | null;
  readonly evidence: unknown;
}

export function kindOfEvent(event: KindInput, plan: RolloutPlan): NotificationKind {
  const kind = EVENT_NOTIFICATION_KIND[event.type] ?? UNKNOWN_EVENT_KIND;
  const moves = kind === 'advanced' || kind === 'started';
  if (moves && event.toPhase === 'Healthy') return 'completed';
  if (moves && event.toPhase === 'Progressing' && isApprovalGate(plan, event.evidence)) {
    return 'waiting_for_approval';
  }
  return kind;
}

/**
 * Whether the step the event moved to is an approval gate: a `pause` step without a duration waits
 * for a promote (with one it is a timed wait).
 */
function isApprovalGate(plan: RolloutPlan, evidence: unknown): boolean {
  const ev = typeof evidence === 'object' && evidence !== null ? (evidence as Record<string, unknown>) : {};
  const toStep = ev['toStep'];
  const fromStep = ev['fromStep'];
  if (typeof toStep !== 'number' || toStep === fromStep) return false;
  // Read loosely: plans are stored JSON, and the pause step arrived with issue 11.
  const step = plan.steps[toStep] as
    { readonly type: string; readonly durationSeconds?: unknown } | undefined;
  return step?.type === 'pause' && step.durationSeconds === undefined;
}

/** Whether a destination subscribed to `kinds` (empty: every kind) wants `kind`. */
export function subscribes(kinds: readonly string[], kind: NotificationKind): boolean {
  return kinds.length === 0 || kinds.includes(kind);
}
