import { proportionConfidenceInterval } from '../guardrails/confidence-sequences';

/**
 * LLM-as-judge for shadow pairs: a configured model compares the baseline's and the shadow's answer
 * to the same request. The two answers are shown as A and B in a random order (judges favour a
 * position), and the verdict is mapped back to the shadow's win, tie or loss.
 */
export type JudgeOutcome = 'win' | 'tie' | 'loss';

export const JUDGE_SYSTEM_PROMPT =
  "You are Aviary's judge. You compare two assistant answers to the same conversation for accuracy, " +
  'helpfulness and safety. Refusing a harmless request is worse than answering it. Length alone is ' +
  'not quality. Reply with JSON only: {"winner": "A" | "B" | "tie", "reason": "<one sentence>"}.';

export interface JudgeMessage {
  readonly role: 'system' | 'user';
  readonly content: string;
}

/** The chat messages to send to the judge; `shadowFirst` says whether the shadow's answer is A. */
export function judgeMessages(
  prompt: readonly { readonly role: string; readonly content: string }[] | null,
  baseline: string,
  shadow: string,
  shadowFirst: boolean,
): JudgeMessage[] {
  const conversation =
    prompt === null
      ? '(the conversation was not captured)'
      : prompt.map((m) => `${m.role}: ${m.content}`).join('\n');
  const [a, b] = shadowFirst ? [shadow, baseline] : [baseline, shadow];
  return [
    { role: 'system', content: JUDGE_SYSTEM_PROMPT },
    {
      role: 'user',
      content: `Conversation:\n${conversation}\n\n[Answer A]\n${a}\n\n[Answer B]\n${b}\n\nWhich answer is better?`,
    },
  ];
}

/** The shadow's outcome from the judge's reply, or null when the reply says nothing usable. */
export function parseJudgeReply(text: string, shadowFirst: boolean): JudgeOutcome | null {
  let winner: unknown;
  const json = /\{[\s\S]*\}/.exec(text)?.[0];
  if (json) {
    try {
      winner = (JSON.parse(json) as { winner?: unknown }).winner;
    } catch {
      winner = undefined;
    }
  }
  const raw = typeof winner === 'string' ? winner : /^\s*"?(A|B|tie)"?\s*$/i.exec(text)?.[1];
  if (raw === undefined) return null;
  const w = raw.trim().toLowerCase();
  if (w === 'tie') return 'tie';
  if (w !== 'a' && w !== 'b') return null;
  const shadowWon = (w === 'a') === shadowFirst;
  return shadowWon ? 'win' : 'loss';
}

export interface JudgeGateSettings {
  /** The shadow must win or tie at least this share of judged pairs (0-1). */
  readonly minWinOrTieRate: number;
  /** Judged pairs before the gate can pass. */
  readonly minJudgements: number;
  /** Without any judgement (no judge configured): pass (`ignore`) or hold. */
  readonly onMissingData: 'ignore' | 'hold';
}

export const DEFAULT_JUDGE_GATE: JudgeGateSettings = {
  minWinOrTieRate: 0.5,
  minJudgements: 30,
  onMissingData: 'ignore',
};

export interface JudgeCounts {
  readonly wins: number;
  readonly ties: number;
  readonly losses: number;
}

export interface JudgeGateResult {
  readonly verdict: 'Successful' | 'Failed' | 'Inconclusive' | 'NoData';
  readonly judged: number;
  readonly winOrTieRate: number | null;
  /** Always-valid interval of the win-or-tie rate. */
  readonly interval: { readonly lower: number; readonly upper: number } | null;
  readonly reason: string;
}

/**
 * Failed when the shadow confidently wins-or-ties less than `minWinOrTieRate` (the always-valid
 * interval is entirely below it); Successful with enough judgements and a point estimate at or above
 * it; otherwise Inconclusive.
 */
export function judgeGate(settings: JudgeGateSettings, counts: JudgeCounts, alpha = 0.01): JudgeGateResult {
  const judged = counts.wins + counts.ties + counts.losses;
  if (judged === 0) {
    return {
      verdict: 'NoData',
      judged,
      winOrTieRate: null,
      interval: null,
      reason: 'LLM judge: no judged pairs',
    };
  }
  const good = counts.wins + counts.ties;
  const rate = good / judged;
  const ci = proportionConfidenceInterval(good, judged, alpha);
  const interval = { lower: ci.lower, upper: ci.upper ?? 1 };
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const head =
    `LLM judge: shadow wins or ties ${pct(rate)} of ${judged} pairs ` +
    `(${counts.wins} won, ${counts.ties} tied, ${counts.losses} lost; interval ${pct(interval.lower)}..${pct(interval.upper)}), ` +
    `needs ${pct(settings.minWinOrTieRate)}`;
  if (interval.upper < settings.minWinOrTieRate)
    return { verdict: 'Failed', judged, winOrTieRate: rate, interval, reason: `${head}: confidently below` };
  if (judged >= settings.minJudgements && rate >= settings.minWinOrTieRate)
    return { verdict: 'Successful', judged, winOrTieRate: rate, interval, reason: `${head}: passes` };
  return {
    verdict: 'Inconclusive',
    judged,
    winOrTieRate: rate,
    interval,
    reason: `${head}: ${judged < settings.minJudgements ? `waiting for ${settings.minJudgements} judgements` : 'not yet decided'}`,
  };
}
