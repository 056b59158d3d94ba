import type { ConfidenceInterval } from './confidence-sequences';
import { abs, round } from './fast-math';

/** Number formats shared by the guardrails' reasons and the plain-words status sentences. */

export function formatInterval(interval: ConfidenceInterval | null, format: (v: number) => string): string {
  if (interval === null) return 'unknown';
  return `${format(interval.lower)}..${interval.upper === null ? 'unbounded' : format(interval.upper)}`;
}

/** 0.041 -> "4.1%", 0.0004 -> "0.04%". */
export function formatRate(rate: number): string {
  const pct = rate * 100;
  if (pct === 0) return '0%';
  return `${trimZeros(pct.toFixed(abs(pct) >= 1 ? 1 : 2))}%`;
}

/** 1.39 -> "+139%", -0.31 -> "-31%". */
export function formatSigned(change: number): string {
  const pct = round(change * 100);
  return `${pct > 0 ? '+' : pct < 0 ? '-' : '±'}${abs(pct)}%`;
}

/** 1840.2 -> "1,840". */
export function formatNumber(value: number): string {
  return round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * US dollars with two significant digits below a cent and cents above: 0.0021 -> "$0.0021",
 * 0.000004567 -> "$0.0000046", 12.345 -> "$12.35".
 */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  const a = abs(usd);
  if (a >= 1) return `${usd < 0 ? '-' : ''}$${a.toFixed(2)}`;
  const digits = Math.min(12, Math.max(2, 1 - Math.floor(Math.log10(a))));
  return `${usd < 0 ? '-' : ''}$${trimZeros(a.toFixed(digits))}`;
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}
