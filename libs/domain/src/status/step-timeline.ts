import { describeStep, stepMinimumSeconds } from '../rollout/traffic-split';
import type { RolloutPhase, RolloutPlan } from '../rollout/rollout.types';

/** A step as the status page shows it. */
export type TimelineStepStatus =
  /** Passed (or skipped over by a manual "promote to the end"). */
  | 'done'
  | 'skipped'
  | 'current'
  | 'paused'
  /** Where the rollout was rolled back. */
  | 'stopped'
  | 'upcoming';

export interface TimelineStep {
  readonly index: number;
  readonly label: string;
  readonly status: TimelineStepStatus;
  /** Null for an approval gate: it waits for a promote, not for time. */
  readonly minDurationSeconds: number | null;
  readonly maxDurationSeconds: number | null;
  /** When the rollout entered the step (its latest attempt); null if it never did. */
  readonly startedAt: Date | null;
  /** When it left the step (advanced, rolled back, completed); null while current or never entered. */
  readonly endedAt: Date | null;
}

/** What the timeline needs of a decision-log entry (the `fromStep`/`toStep` of its evidence). */
export interface TimelineEvent {
  readonly type: string;
  readonly at: Date;
  readonly fromStep: number;
  readonly toStep: number;
  readonly toPhase: RolloutPhase;
}

const ATTEMPT_STARTS = new Set(['Started', 'Retried']);
const TERMINAL: readonly RolloutPhase[] = ['Healthy', 'RolledBack'];

/**
 * The plan's steps with their status and times, from the rollout's position and its decision log
 * (oldest first). A retry starts a new attempt: only the latest attempt's times are shown.
 */
export function stepTimeline(
  plan: RolloutPlan,
  position: { readonly phase: RolloutPhase; readonly stepIndex: number },
  events: readonly TimelineEvent[],
): TimelineStep[] {
  const n = plan.steps.length;
  let started: (Date | null)[] = new Array<Date | null>(n).fill(null);
  let ended: (Date | null)[] = new Array<Date | null>(n).fill(null);
  for (const e of events) {
    if (ATTEMPT_STARTS.has(e.type)) {
      started = new Array<Date | null>(n).fill(null);
      ended = new Array<Date | null>(n).fill(null);
      if (e.toStep >= 0 && e.toStep < n) started[e.toStep] = e.at;
      continue;
    }
    if (e.toStep !== e.fromStep && e.toStep >= 0 && e.toStep < n) {
      if (e.fromStep >= 0 && e.fromStep < n) ended[e.fromStep] = e.at;
      started[e.toStep] = e.at;
    }
    if (TERMINAL.includes(e.toPhase) && e.toStep >= 0 && e.toStep < n) ended[e.toStep] = e.at;
  }
  return plan.steps.map((step, index) => ({
    index,
    label: describeStep(step),
    status: statusOf(index, position, started[index] ?? null),
    minDurationSeconds: stepMinimumSeconds(step),
    maxDurationSeconds: step.maxDurationSeconds ?? null,
    startedAt: started[index] ?? null,
    endedAt: ended[index] ?? null,
  }));
}

function statusOf(
  index: number,
  { phase, stepIndex }: { readonly phase: RolloutPhase; readonly stepIndex: number },
  startedAt: Date | null,
): TimelineStepStatus {
  if (phase === 'Pending' || stepIndex < 0 || index > stepIndex) return 'upcoming';
  if (index < stepIndex) return startedAt === null ? 'skipped' : 'done';
  switch (phase) {
    case 'Progressing':
      return 'current';
    case 'Paused':
      return 'paused';
    case 'RolledBack':
      return 'stopped';
    case 'Healthy':
      return 'done';
  }
}
