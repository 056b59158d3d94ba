import { describeCohort } from '../rollout/cohort';
import { formatNumber } from '../guardrails/guardrail-format';
import type { RolloutPhase, RolloutPlan, TrafficSplit } from '../rollout/rollout.types';
import type { GuardrailLine, PlainTone } from './guardrail-wording';
import { stepTimeline, type TimelineEvent, type TimelineStep } from './step-timeline';

/**
 * The page's word for each API phase. Where the words differ from the API's (argo-rollouts') name,
 * the name follows in brackets, so a PM and an engineer reading /api/v1 mean the same thing.
 */
export const PHASE_LABELS: Readonly<Record<RolloutPhase, string>> = {
  Pending: 'Not started (Pending)',
  Progressing: 'Progressing',
  Paused: 'Paused',
  Healthy: 'Completed (Healthy)',
  RolledBack: 'Rolled back',
};

/** Events that end an attempt, and what kind of ending each is. */
const ENDINGS: Readonly<Record<string, 'completed' | 'rolledBack'>> = {
  Completed: 'completed',
  PromotedFull: 'completed',
  AutoRolledBack: 'rolledBack',
  RolledBack: 'rolledBack',
  DeadlineRolledBack: 'rolledBack',
};
const ATTEMPT_STARTS = new Set(['Started', 'Retried']);

/** A decision-log entry with its plain headline (describeDecision), oldest first. */
export interface StoryEvent extends TimelineEvent {
  readonly actor: string;
  readonly automatic: boolean;
  readonly headline: string;
}

export interface RolloutEnding {
  readonly kind: 'completed' | 'rolledBack';
  readonly at: Date;
  /** "Aviary (automatic)" or the operator's token name. */
  readonly by: string;
  readonly automatic: boolean;
  readonly headline: string;
}

export interface RolloutAttempt {
  /** 1 for the first start, 2 after the first retry, … */
  readonly number: number;
  readonly startedAt: Date;
  readonly startedBy: string;
  readonly ending: RolloutEnding | null;
  readonly steps: readonly TimelineStep[];
  /** "Attempt 1: rolled back automatically at 5% (refusal rate 20% vs 4% …)". */
  readonly summary: string;
}

/** Who did it, in the page's words. */
export function actorText(e: { readonly actor: string; readonly automatic: boolean }): string {
  return e.automatic ? 'Aviary (automatic)' : e.actor;
}

/**
 * The rollout's whole story: one entry per attempt (the first start and each retry), each with its
 * own step timeline and how it ended, so a retry does not hide the rollback before it. The last
 * attempt is the rollout's current position.
 */
export function rolloutAttempts(
  plan: RolloutPlan,
  position: { readonly phase: RolloutPhase; readonly stepIndex: number },
  events: readonly StoryEvent[],
): RolloutAttempt[] {
  const groups: StoryEvent[][] = [];
  for (const e of events) {
    if (ATTEMPT_STARTS.has(e.type)) groups.push([e]);
    else groups.at(-1)?.push(e);
  }
  return groups.map((group, i) => {
    const start = group[0]!;
    const last = i === groups.length - 1;
    const end = [...group].reverse().find((e) => ENDINGS[e.type] !== undefined) ?? null;
    const ending: RolloutEnding | null = end
      ? {
          kind: ENDINGS[end.type]!,
          at: end.at,
          by: actorText(end),
          automatic: end.automatic,
          headline: end.headline,
        }
      : null;
    const at = last
      ? position
      : { phase: end ? end.toPhase : ('RolledBack' as const), stepIndex: end?.toStep ?? start.toStep };
    const number = i + 1;
    return {
      number,
      startedAt: start.at,
      startedBy: actorText(start),
      ending,
      steps: stepTimeline(plan, at, group),
      summary: `Attempt ${number}: ${ending ? endingText(ending) : last ? 'in progress' : 'ended'}`,
    };
  });
}

/** "rolled back automatically — Rolled back at 5%: …" in one line for headers and history. */
export function endingText(ending: RolloutEnding): string {
  const how = ending.kind === 'completed' ? 'completed' : 'rolled back';
  return `${how} ${ending.automatic ? 'automatically' : `by ${ending.by}`} — ${ending.headline}`;
}

/**
 * What the page says above the comparison: the step's verdict while the rollout runs, and what
 * happened once it has ended (a rolled-back rollout is not "collecting evidence").
 */
export function analysisHeadline(
  phase: RolloutPhase,
  verdict: string,
  lines: readonly GuardrailLine[],
  ending: RolloutEnding | null,
): { readonly headline: string; readonly tone: PlainTone } {
  if (phase === 'RolledBack')
    return {
      headline: `Rolled back${ending ? ` ${ending.automatic ? 'automatically' : `by ${ending.by}`}` : ''}: the baseline serves everyone. The figures below are from when it stopped.`,
      tone: 'bad',
    };
  if (phase === 'Healthy')
    return {
      headline: 'Completed: the candidate is the stable version. The figures below are from its last step.',
      tone: 'good',
    };
  if (phase === 'Pending') return { headline: 'Not started yet: no evidence to compare.', tone: 'waiting' };
  const counts = countStatuses(lines);
  if (verdict === 'Failed')
    return {
      headline: `A guardrail is worse than allowed: the rollout rolls back (${counts}).`,
      tone: 'bad',
    };
  if (verdict === 'Successful')
    return { headline: `Every guardrail is within its limit for this step (${counts}).`, tone: 'good' };
  if (lines.length === 0) return { headline: 'No guardrails checked in this step.', tone: 'waiting' };
  return { headline: `Not decided yet: ${counts}.`, tone: 'waiting' };
}

/** "1 not enough data yet; 2 no sign of harm", worst first. */
function countStatuses(lines: readonly GuardrailLine[]): string {
  const order: readonly PlainTone[] = ['bad', 'warn', 'waiting', 'good'];
  const counts = new Map<string, { n: number; rank: number }>();
  for (const l of lines) {
    const c = counts.get(l.status) ?? { n: 0, rank: order.indexOf(l.tone) };
    c.n += 1;
    counts.set(l.status, c);
  }
  return [...counts.entries()]
    .sort((a, b) => a[1].rank - b[1].rank)
    .map(([status, c]) => `${c.n} ${status.toLowerCase()}`)
    .join('; ');
}

export interface SplitLegendItem {
  readonly role: 'baseline' | 'candidate' | 'shadow';
  readonly text: string;
}

/** The split bar's legend: who gets which version, and what the shadow copies are. */
export function splitLegend(
  split: TrafficSplit,
  versions: { readonly baseline: string; readonly candidate: string },
): SplitLegendItem[] {
  const items: SplitLegendItem[] = [
    { role: 'baseline', text: `${versions.baseline} (baseline): ${100 - split.candidateWeight}% of users` },
    {
      role: 'candidate',
      text: `${versions.candidate} (candidate): ${split.candidateWeight}% of users${split.cohort ? `, plus the cohort (${describeCohort(split.cohort)})` : ''}`,
    },
  ];
  if (split.shadowSampleRate !== null)
    items.push({
      role: 'shadow',
      text: `${Math.round(split.shadowSampleRate * 100)}% of requests also copied to ${versions.candidate} in the background (users see only the baseline's answer)`,
    });
  return items;
}

/** A rollout-moving event of the last days, for the overview's "what changed this week". */
export interface ChangeRecord {
  readonly type: string;
  readonly at: Date;
  readonly model: string;
  readonly baseline: string;
  readonly candidate: string;
  readonly actor: string;
  readonly automatic: boolean;
  /** describeDecision's headline: why, in plain words. */
  readonly headline: string;
}

export interface Change {
  readonly at: Date;
  readonly model: string;
  /** "support-bot: v2-int8 rolled back; v1 serves everyone". */
  readonly title: string;
  readonly detail: string;
  readonly by: string;
  readonly tone: PlainTone;
}

/** Types the overview lists as changes (the rest of the decision log is on each rollout's page). */
export const CHANGE_TYPES = [
  'Started',
  'Retried',
  'Completed',
  'PromotedFull',
  'AutoRolledBack',
  'RolledBack',
  'DeadlineRolledBack',
  'Reverted',
  'WatchRegressed',
] as const;

/** One change in a sentence, or null for an event that is not a change a PM follows. */
export function describeChange(c: ChangeRecord): Change | null {
  const says = (title: string, tone: PlainTone): Change => ({
    at: c.at,
    model: c.model,
    title: `${c.model}: ${title}`,
    detail: c.headline,
    by: actorText(c),
    tone,
  });
  switch (c.type) {
    case 'Started':
      return says(`rollout of ${c.candidate} started (replacing ${c.baseline})`, 'waiting');
    case 'Retried':
      return says(`rollout of ${c.candidate} retried from its first step`, 'waiting');
    case 'Completed':
    case 'PromotedFull':
      return says(`${c.candidate} is now the stable version (was ${c.baseline})`, 'good');
    case 'AutoRolledBack':
    case 'RolledBack':
    case 'DeadlineRolledBack':
      return says(
        `${c.candidate} rolled back${c.automatic ? ' automatically' : ''}; ${c.baseline} serves everyone`,
        'bad',
      );
    case 'Reverted':
      return says(`${c.candidate} reverted; ${c.baseline} is the stable version again`, 'warn');
    case 'WatchRegressed':
      return says(`${c.candidate} regressed after it became stable`, 'bad');
    default:
      return null;
  }
}

/** "3 rollouts: 1 completed, 2 rolled back" for a model's history heading. */
export function historyCounts(phases: readonly RolloutPhase[]): string {
  if (phases.length === 0) return 'No rollouts yet.';
  const n = (p: RolloutPhase) => phases.filter((x) => x === p).length;
  const parts = [
    [n('Healthy'), 'completed'],
    [n('RolledBack'), 'rolled back'],
    [n('Progressing') + n('Paused'), 'in progress'],
    [n('Pending'), 'not started'],
  ] as const;
  return `${formatNumber(phases.length)} rollout${phases.length === 1 ? '' : 's'}: ${parts
    .filter(([k]) => k > 0)
    .map(([k, w]) => `${k} ${w}`)
    .join(', ')}.`;
}
