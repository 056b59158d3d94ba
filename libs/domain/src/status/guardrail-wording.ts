import { formatDuration } from '../guardrails/rollout-guardrails';
import { formatNumber } from '../guardrails/guardrail-format';
import type { GuardrailResult } from '../guardrails/guardrail-report';

/**
 * One guardrail's verdict in a PM's words: what it means for the rollout, with the numbers a person
 * can act on ("waiting for 2 more hours of feedback", "needs about 30 more hours of traffic") and no
 * interval like [-100%, +110263%]. Pure; reads only what the analysis report carries.
 */
export function describeGuardrailPlainly(g: GuardrailResult): string {
  const what = NOUN[g.metric] ?? g.metric;
  const lowerIsWorse = g.metric === 'outputLengthDrop';
  const pct = (x: number): string => `${Math.round(Math.abs(x) * 100)}%`;
  const direction = (x: number): string =>
    lowerIsWorse ? (x < 0 ? 'shorter' : 'longer') : x > 0 ? 'higher' : 'lower';
  const change =
    g.relativeChange === null
      ? ''
      : Math.round(g.relativeChange * 100) === 0
        ? 'about the same as the baseline'
        : `${pct(g.relativeChange)} ${direction(g.relativeChange)} than the baseline`;
  const allowed = `${pct(g.limit)} ${lowerIsWorse ? 'shorter' : 'higher'}`;
  switch (g.verdict) {
    case 'Failed': {
      if (
        g.interval !== null &&
        (lowerIsWorse ? g.interval.upper !== null && g.interval.upper < g.limit : g.interval.lower > g.limit)
      ) {
        const bound = lowerIsWorse ? (g.interval.upper ?? g.limit) : g.interval.lower;
        return `Worse than allowed: ${what} is at least ${pct(bound)} ${lowerIsWorse ? 'shorter' : 'higher'} (allowed: ${allowed}).`;
      }
      return `Worse than allowed: ${what} is above its ${g.ceiling === null ? 'ceiling' : formatValue(g.metric, g.ceiling)} ceiling.`;
    }
    case 'NoData':
      return `No ${SAMPLE_NOUN[g.metric]} from ${g.samples.candidate <= 0 ? 'the candidate' : 'the baseline'} yet.`;
    case 'Inconclusive': {
      if (g.samples.baseline < g.minSamples || g.samples.candidate < g.minSamples) {
        const have = Math.min(g.samples.baseline, g.samples.candidate);
        return `Collecting evidence: ${formatNumber(have)} of the ${formatNumber(g.minSamples)} ${SAMPLE_NOUN[g.metric]} needed from each version.`;
      }
      const wait = g.feedbackWindow?.waitingSeconds ?? 0;
      if (wait > 0)
        return `Waiting for ${plainDuration(wait)} more of feedback on this step's answers (${change || 'no difference yet'}).`;
      if (
        g.relativeChange !== null &&
        (lowerIsWorse ? g.relativeChange < g.limit : g.relativeChange > g.limit)
      )
        return `Looks worse than allowed (${change}; allowed: ${allowed}), not certain yet: holding until the evidence decides.`;
      const needed = g.harm?.needed;
      const bound = g.harm ? `${pct(g.harm.limit)} ${lowerIsWorse ? 'shorter' : 'higher'}` : allowed;
      if (needed && needed.seconds !== null)
        return `${capitalize(change || 'No clear difference')}, not yet shown safe: needs about ${plainDuration(needed.seconds)} more of this step's traffic to show it is at most ${bound}.`;
      if (needed)
        return `${capitalize(change || 'No clear difference')}, not yet shown safe: needs about ${needed.factor.toFixed(1)} times the evidence so far to show it is at most ${bound}.`;
      return `${capitalize(change || 'No clear difference')}, not yet shown safe to go to everyone (must be shown at most ${bound}).`;
    }
    case 'Successful': {
      if (g.requirement === 'harmBound' && g.harm?.shown && g.harm.bound !== null) {
        return `Fine: ${change || 'no difference'}; with ${Math.round((1 - g.harm.alpha) * 100)}% confidence at most ${pct(g.harm.bound)} ${lowerIsWorse ? 'shorter' : 'higher'} (needed: below ${pct(g.harm.limit)}).`;
      }
      const past =
        g.relativeChange !== null && (lowerIsWorse ? g.relativeChange < g.limit : g.relativeChange > g.limit);
      if (past)
        return `Looks ${change} (allowed: ${allowed}), not certain: an early step goes on unless harm is shown; the step to everyone will have to show it is within bounds.`;
      return `Fine so far: ${change || 'no difference'}, no sign of harm beyond the allowed ${allowed}.`;
    }
  }
}

const NOUN: Readonly<Record<GuardrailResult['metric'], string>> = {
  refusalRate: 'the refusal rate',
  thumbsDownRate: 'the thumbs-down rate',
  errorRate: 'the error rate',
  silentFailureRate: 'the rate of empty or broken answers',
  latencyP95: 'latency (p95)',
  outputLengthDrop: 'the average answer',
  ttftP95: 'the wait for the first word of a streamed answer (p95)',
  costPerRequest: 'the cost per answer',
};

/** What a guardrail's samples are, in words ("120 of 700 answers"). */
export const SAMPLE_NOUN: Readonly<Record<GuardrailResult['metric'], string>> = {
  refusalRate: 'answers',
  thumbsDownRate: 'ratings',
  errorRate: 'requests',
  silentFailureRate: 'answers',
  latencyP95: 'answers',
  outputLengthDrop: 'answers with token counts',
  ttftP95: 'streamed answers',
  costPerRequest: 'priced answers',
};

function formatValue(metric: GuardrailResult['metric'], v: number): string {
  return metric === 'latencyP95' || metric === 'ttftP95'
    ? `${formatNumber(v)} ms`
    : `${Math.round(v * 1000) / 10}%`;
}

/** 7200 -> "2 hours", 90 -> "2 minutes", 3 days. */
function plainDuration(seconds: number): string {
  const text = formatDuration(seconds);
  const m = /^(\d+)h(?: (\d+)m)?$/.exec(text);
  if (m) {
    const hours = Number(m[1]) + (Number(m[2] ?? 0) >= 30 ? 1 : 0);
    return hours === 1 ? 'an hour' : `${hours} hours`;
  }
  const min = /^(\d+)m$/.exec(text);
  if (min) return min[1] === '1' ? 'a minute' : `${min[1]} minutes`;
  const sec = /^(\d+)s$/.exec(text);
  if (sec) return 'a minute';
  return text;
}

function capitalize(s: string): string {
  return s.length > 0 ? s[0]!.toUpperCase() + s.slice(1) : s;
}

/** How a guardrail stands, in a word a PM can read at a glance (never "Pass" next to doubt). */
export type GuardrailStanding =
  | 'shownWithin'
  | 'noSignOfHarm'
  | 'looksWorse'
  | 'worse'
  | 'notShownYet'
  | 'waitingForFeedback'
  | 'notEnoughData'
  | 'noData';

export type PlainTone = 'good' | 'warn' | 'bad' | 'waiting';

export interface GuardrailLine {
  readonly standing: GuardrailStanding;
  /** The badge: "Within limits", "Not enough data yet", "Looks worse, not certain". */
  readonly status: string;
  readonly tone: PlainTone;
  /** The figure in words first: "refusals: 4% vs 5% — within the allowed +20%". */
  readonly headline: string;
}

const STANDING: Readonly<Record<GuardrailStanding, { readonly status: string; readonly tone: PlainTone }>> = {
  shownWithin: { status: 'Shown within limits', tone: 'good' },
  noSignOfHarm: { status: 'No sign of harm', tone: 'good' },
  looksWorse: { status: 'Looks worse, not certain', tone: 'warn' },
  worse: { status: 'Worse than allowed', tone: 'bad' },
  notShownYet: { status: 'Not yet shown safe', tone: 'waiting' },
  waitingForFeedback: { status: 'Waiting for feedback', tone: 'waiting' },
  notEnoughData: { status: 'Not enough data yet', tone: 'waiting' },
  noData: { status: 'No data yet', tone: 'waiting' },
};

/** Short names for the headline ("refusals: 4% vs 5%"). */
export const GUARDRAIL_SHORT_NAMES: Readonly<Record<GuardrailResult['metric'], string>> = {
  refusalRate: 'refusals',
  thumbsDownRate: 'thumbs-down',
  errorRate: 'errors',
  silentFailureRate: 'empty or broken answers',
  latencyP95: 'latency (p95)',
  outputLengthDrop: 'answer length',
  ttftP95: 'first token of streamed answers (p95)',
  costPerRequest: 'cost per answer',
};

/**
 * One guardrail as a line of the status page: the figures in words first, then what they mean
 * against the allowed limit; the interval stays out (the page keeps it one click away).
 */
export function guardrailLine(g: GuardrailResult): GuardrailLine {
  const standing = standingOf(g);
  const name = GUARDRAIL_SHORT_NAMES[g.metric] ?? g.metric;
  const lowerIsWorse = g.metric === 'outputLengthDrop';
  const pct = (x: number): string => `${Math.round(Math.abs(x) * 100)}%`;
  const allowed = lowerIsWorse ? `${pct(g.limit)} shorter` : `+${pct(g.limit)}`;
  const figures =
    g.baseline === null || g.candidate === null
      ? null
      : `${formatFigure(g.metric, g.baseline)} vs ${formatFigure(g.metric, g.candidate)}`;
  const change =
    g.relativeChange === null || Math.round(g.relativeChange * 100) === 0
      ? 'about the same'
      : `${pct(g.relativeChange)} ${lowerIsWorse ? (g.relativeChange < 0 ? 'shorter' : 'longer') : g.relativeChange > 0 ? 'higher' : 'lower'}`;
  const sayWith = (what: string): string => `${name}: ${figures ?? 'no figures yet'} — ${what}`;
  const overCeiling = g.ceiling !== null && g.candidate !== null && g.candidate > g.ceiling;
  let headline: string;
  switch (standing) {
    case 'noData':
      headline = `${name}: no ${SAMPLE_NOUN[g.metric]} from ${g.samples.candidate <= 0 ? 'the candidate' : 'the baseline'} yet`;
      break;
    case 'notEnoughData':
      headline = `${name}: not enough ${SAMPLE_NOUN[g.metric]} yet — ${formatNumber(Math.min(g.samples.baseline, g.samples.candidate))} of ${formatNumber(g.minSamples)}`;
      break;
    case 'waitingForFeedback':
      headline = sayWith(
        `waiting for ${plainDuration(g.feedbackWindow?.waitingSeconds ?? 0)} more of feedback`,
      );
      break;
    case 'worse':
      headline = sayWith(
        overCeiling && g.ceiling !== null && !pastLimit(g)
          ? `above the ${formatFigure(g.metric, g.ceiling)} ceiling`
          : `${change}, worse than the allowed ${allowed}`,
      );
      break;
    case 'looksWorse':
      headline = sayWith(`${change}, more than the allowed ${allowed}, not certain yet`);
      break;
    case 'notShownYet':
      headline = sayWith(`${change}; not yet shown within the allowed ${allowed} for everyone`);
      break;
    case 'shownWithin':
      headline = sayWith(`${change}, shown within the allowed ${allowed}`);
      break;
    case 'noSignOfHarm':
      headline = sayWith(`${change}, within the allowed ${allowed}`);
      break;
  }
  return { standing, ...STANDING[standing], headline };
}

function pastLimit(g: GuardrailResult): boolean {
  if (g.relativeChange === null) return false;
  return g.metric === 'outputLengthDrop' ? g.relativeChange < g.limit : g.relativeChange > g.limit;
}

function standingOf(g: GuardrailResult): GuardrailStanding {
  switch (g.verdict) {
    case 'NoData':
      return 'noData';
    case 'Failed':
      return 'worse';
    case 'Successful':
      if (pastLimit(g)) return 'looksWorse';
      return g.proven || g.harm?.shown === true ? 'shownWithin' : 'noSignOfHarm';
    case 'Inconclusive':
      if (g.samples.baseline < g.minSamples || g.samples.candidate < g.minSamples) return 'notEnoughData';
      if ((g.feedbackWindow?.waitingSeconds ?? 0) > 0) return 'waitingForFeedback';
      return pastLimit(g) ? 'looksWorse' : 'notShownYet';
  }
}

/** A metric's value the way the page prints it: "4%", "4.1%", "220 ms", "80 tokens". */
export function formatFigure(metric: GuardrailResult['metric'], v: number): string {
  if (metric === 'outputLengthDrop') return `${formatNumber(Math.round(v))} tokens`;
  return formatValue(metric, v);
}
