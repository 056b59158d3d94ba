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
  costPerRequest: 'the cost per answer',
};

const SAMPLE_NOUN: Readonly<Record<GuardrailResult['metric'], string>> = {
  refusalRate: 'answers',
  thumbsDownRate: 'ratings',
  errorRate: 'requests',
  silentFailureRate: 'answers',
  latencyP95: 'answers',
  outputLengthDrop: 'answers with token counts',
  costPerRequest: 'priced answers',
};

function formatValue(metric: GuardrailResult['metric'], v: number): string {
  return metric === 'latencyP95' ? `${formatNumber(v)} ms` : `${Math.round(v * 1000) / 10}%`;
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
