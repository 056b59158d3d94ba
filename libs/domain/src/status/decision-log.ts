import { describeStep, formatSeconds, isGate } from '../rollout/traffic-split';
import type { RolloutPlan } from '../rollout/rollout.types';
import type { GuardrailResult } from '../guardrails/guardrail-report';
import { guardrailLine } from './guardrail-wording';

/** A decision-log entry as stored (the control plane's rollout event). */
export interface DecisionRecord {
  readonly type: string;
  readonly actor: string;
  readonly automatic: boolean;
  readonly reason: string | null;
  readonly message: string | null;
  /** Structured evidence: fromStep/toStep, and for analysis decisions the guardrails and judge. */
  readonly evidence: unknown;
}

export type DecisionTone = 'good' | 'bad' | 'warn' | 'neutral';

export interface DecisionLine {
  /** One sentence a PM can read: what happened, where, and why. */
  readonly headline: string;
  /** The full technical summary (every guardrail), for those who want it. */
  readonly detail: string | null;
  readonly tone: DecisionTone;
}

interface GuardrailEvidence {
  readonly verdict: string;
  readonly proven: boolean;
  readonly reason: string;
  /** The figures in words (guardrailLine), when the evidence carries them. */
  readonly line: string | null;
  /** Shown below its harm bound (the step that leads to everyone). */
  readonly harmShown: boolean;
}

/**
 * Plain words for a decision: "Rolled back at 20%: refusal rate 9.8% vs 4.1% baseline, +139%
 * (interval +80%..+210%), limit +20%: exceeds the limit". Reads the evidence defensively: it is JSON
 * written by older versions too.
 */
export function describeDecision(
  record: DecisionRecord,
  plan: RolloutPlan,
  /**
   * 'technical' (the CLI, notifications): each failed guardrail's full reason with its interval;
   * 'plain' (the status page): the figures in words, the interval left to the detail.
   */
  words: 'technical' | 'plain' = 'technical',
): DecisionLine {
  const ev = asObject(record.evidence);
  const from = stepAt(plan, ev['fromStep']);
  const to = stepAt(plan, ev['toStep']);
  const by = record.automatic ? '' : ` by ${record.actor}`;
  const because = record.reason ? `: “${record.reason}”` : '';
  const detail = record.message;
  const guardrails = guardrailsOf(ev['guardrails']);
  const line = (headline: string, tone: DecisionTone): DecisionLine => ({ headline, detail, tone });

  switch (record.type) {
    case 'Created':
      return line(
        `Created${by}${because ? because : record.message ? `: ${record.message}` : ''}`,
        'neutral',
      );
    case 'Started':
      return line(`Started${by}${to ? `: ${to.label}` : ''}`, 'neutral');
    case 'StepAdvanced':
      return line(
        `Advanced${from ? ` from ${from.label}` : ''}${to ? ` to ${to.label}` : ''}: ${passedText(guardrails)}${judgeText(ev, 'Successful')}`,
        'good',
      );
    case 'Completed':
      return line(`Completed: the candidate is now the stable version (${passedText(guardrails)})`, 'good');
    case 'AutoRolledBack':
      return line(`Rolled back ${where(from ?? to)}: ${failureText(ev, guardrails, record, words)}`, 'bad');
    case 'RolledBack':
      return line(`Rolled back ${where(from ?? to)}${by}${because}`, 'bad');
    case 'Promoted':
      return line(
        `Promoted${by}${from ? ` from ${from.label}` : ''}${to ? ` to ${to.label}` : ''} (manual override)${because}`,
        'warn',
      );
    case 'PromotedFull':
      return line(
        `Promoted${by} to the end (manual override): the candidate is now the stable version${because}`,
        'warn',
      );
    case 'Paused':
      return line(`Paused ${where(from ?? to)}${by}${because}`, 'warn');
    case 'Resumed':
      return line(`Resumed ${where(to ?? from)}${by}`, 'neutral');
    case 'Retried':
      return line(
        `Retried${by}${because}${to ? `; starting again with ${to.label}` : ''}${baselineText(ev)}`,
        'neutral',
      );
    case 'Approved':
      return line(
        `Approved${by}${from ? ` at ${from.label}` : ''}${to ? `, on to ${to.label}` : ''}${because}`,
        'good',
      );
    case 'ProgressDeadlineExceeded':
      return line(
        `Past its progress deadline ${where(to ?? from)}: holding until the analysis allows it or an operator decides`,
        'warn',
      );
    case 'ProgressDeadlineExtended':
      return line(
        `Past its progress deadline ${where(to ?? from)}: holding on, the analysis is on track${projectionText(ev)}; it rolls back if it goes off track or when the grace ends`,
        'warn',
      );
    case 'DeadlineRolledBack':
      return line(`Rolled back ${where(from ?? to)}: ${deadlineText(plan, ev, guardrails, words)}`, 'bad');
    case 'Reverted':
      return line(`Reverted${by}: the previous version is stable again${because}`, 'warn');
    case 'WatchRegressed':
      return line(record.message ?? 'The new stable version regressed against its first days', 'bad');
    case 'WatchPassed':
      return line(record.message ?? 'The new stable version passed its watch', 'good');
    case 'WatchInconclusive':
      return line(
        record.message ??
          'The watch ended without enough evidence after promotion to say whether it regressed',
        'warn',
      );
    case 'GuardrailsNotEvaluated':
      return line(
        'Guardrails are not evaluated (AVIARY_ANALYSIS=time-only): steps advance on time only, nothing rolls back by itself',
        'warn',
      );
    case 'FlagDriftDetected':
    case 'FlagDriftRepaired':
      return line(record.message ?? record.type, record.type === 'FlagDriftDetected' ? 'warn' : 'neutral');
    default:
      return line(record.message ?? record.type, 'neutral');
  }
}

/**
 * Why a progress deadline rolled a step back, in a PM's words: the step could not decide in time
 * (the default plan gives each step twice its minimum), so the candidate stops serving users rather
 * than waiting for ever.
 */
function deadlineText(
  plan: RolloutPlan,
  ev: Record<string, unknown>,
  guardrails: readonly GuardrailEvidence[],
  words: 'technical' | 'plain',
): string {
  const index = ev['fromStep'];
  const step = typeof index === 'number' ? plan.steps[index] : undefined;
  const max = step?.maxDurationSeconds;
  const grace = step?.deadlineGraceSeconds ?? 0;
  const deadline = `its progress deadline${max === undefined ? '' : ` of ${formatSeconds(max)}`}`;
  const offTrack =
    grace > 0 ? `, and was not on track to decide within its ${formatSeconds(grace)} grace` : '';
  if (isGate(step)) return `nobody approved the step by ${deadline}`;
  const undecided = guardrails
    .filter((g) => g.verdict === 'Inconclusive')
    .map((g) => (words === 'plain' && g.line !== null ? g.line : g.reason));
  const which = undecided.length > 0 ? ` (undecided: ${undecided.join('; ')})` : '';
  switch (ev['verdict']) {
    case 'Inconclusive':
      return `the step passed ${deadline} without enough evidence to decide${offTrack}${which}`;
    case 'Error':
      return `the step passed ${deadline} with the analysis unable to run`;
    default:
      return `the step passed ${deadline}`;
  }
}

/** The analysis's projection kept with a deadline extension: " (projected to decide in ~1d 4h)". */
function projectionText(ev: Record<string, unknown>): string {
  const seconds = ev['secondsToDecide'];
  return typeof seconds === 'number' && Number.isFinite(seconds)
    ? ` (projected to decide in ~${formatSeconds(Math.round(seconds))})`
    : '';
}

/** A retry compares with the model's stable version now; say so when that changed the baseline. */
function baselineText(ev: Record<string, unknown>): string {
  const now = asObject(ev['baseline']);
  const before = asObject(ev['previousBaseline']);
  return typeof now['label'] === 'string' && typeof before['label'] === 'string'
    ? ` against ${now['label']}, the stable version now (was ${before['label']})`
    : '';
}

function failureText(
  ev: Record<string, unknown>,
  guardrails: readonly GuardrailEvidence[],
  record: DecisionRecord,
  words: 'technical' | 'plain',
): string {
  const failed = guardrails
    .filter((g) => g.verdict === 'Failed')
    .map((g) => (words === 'plain' && g.line !== null ? g.line : g.reason));
  const judge = judgeText(ev, 'Failed');
  if (failed.length > 0) return failed.join('; ') + judge;
  if (judge) return judge.slice(2);
  const detail = typeof ev['detail'] === 'string' ? ev['detail'] : null;
  return detail ?? record.message ?? 'the analysis failed';
}

function passedText(guardrails: readonly GuardrailEvidence[]): string {
  if (guardrails.length === 0) return 'minimum time passed';
  const passed = guardrails.filter((g) => g.verdict === 'Successful');
  const proven = passed.filter((g) => g.proven).length;
  const shown = passed.filter((g) => g.harmShown).length;
  const all = passed.length === guardrails.length ? 'all ' : '';
  const count = all ? `${guardrails.length}` : `${passed.length} of ${guardrails.length}`;
  const how =
    shown > 0
      ? ` (${shown === passed.length ? 'all' : shown} shown safe to go to everyone)`
      : proven > 0
        ? ` (${proven} proven by their intervals)`
        : '';
  return `${all}${count} guardrails within limits${how}`;
}

function judgeText(ev: Record<string, unknown>, verdict: string): string {
  const judge = asObject(ev['judge']);
  return judge['verdict'] === verdict && typeof judge['reason'] === 'string' ? `; ${judge['reason']}` : '';
}

function guardrailsOf(value: unknown): GuardrailEvidence[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((g): GuardrailEvidence[] => {
    const o = asObject(g);
    return typeof o['verdict'] === 'string' && typeof o['reason'] === 'string'
      ? [
          {
            verdict: o['verdict'],
            proven: o['proven'] === true,
            reason: o['reason'],
            line: lineOf(o),
            harmShown: asObject(o['harm'])['shown'] === true,
          },
        ]
      : [];
  });
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** guardrailLine's headline from a guardrail's stored evidence, or null when a figure is missing. */
function lineOf(o: Record<string, unknown>): string | null {
  const metric = o['metric'];
  const limit = num(o['limit']);
  const samples = asObject(o['samples']);
  if (typeof metric !== 'string' || !(metric in GUARDRAIL_METRIC_SET) || limit === null) return null;
  const result: GuardrailResult = {
    metric: metric as GuardrailResult['metric'],
    verdict: o['verdict'] as GuardrailResult['verdict'],
    proven: o['proven'] === true,
    baseline: num(o['baseline']),
    candidate: num(o['candidate']),
    relativeChange: num(o['relativeChange']),
    interval: null,
    candidateInterval: null,
    limit,
    ceiling: num(o['ceiling']),
    samples: { baseline: num(samples['baseline']) ?? 0, candidate: num(samples['candidate']) ?? 0 },
    minSamples: 0,
    reason: String(o['reason']),
  };
  return guardrailLine(result).headline;
}

const GUARDRAIL_METRIC_SET: Readonly<Record<GuardrailResult['metric'], true>> = {
  refusalRate: true,
  thumbsDownRate: true,
  errorRate: true,
  silentFailureRate: true,
  latencyP95: true,
  outputLengthDrop: true,
  ttftP95: true,
  costPerRequest: true,
};

function stepAt(plan: RolloutPlan, index: unknown): { label: string; isWeight: boolean } | null {
  if (typeof index !== 'number') return null;
  const step = plan.steps[index];
  return step
    ? { label: describeStep(step), isWeight: step.type === 'setWeight' || step.type === 'pause' }
    : null;
}

function where(step: { label: string; isWeight: boolean } | null): string {
  if (!step) return 'before start';
  return step.isWeight ? `at ${step.label}` : `in ${step.label}`;
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
