import type { RouterKey } from './router-keys';

const DAY_MS = 86_400_000;

/**
 * Per-key limits, in memory per router replica (documented: N replicas allow N times the limit):
 * requests per minute (a token bucket, bursts up to the minute's worth) and prompt + completion
 * tokens per UTC day (charged when an answer's usage is known, so one request may overshoot).
 */
export class KeyLimits {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly days = new Map<string, { day: number; used: number }>();

  /** 0 when the key may send a request now, else the seconds to wait. */
  take(key: RouterKey, now = Date.now()): number {
    const perMinute = key.requestsPerMinute;
    if (perMinute === null) return 0;
    const perMs = perMinute / 60_000;
    const b = this.buckets.get(key.id) ?? { tokens: perMinute, at: now };
    b.tokens = Math.min(perMinute, b.tokens + (now - b.at) * perMs);
    b.at = now;
    this.buckets.set(key.id, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
  }

  /** Whether the key has token budget left today. */
  withinBudget(key: RouterKey, now = Date.now()): boolean {
    if (key.tokensPerDay === null) return true;
    return this.usedToday(key.id, now) < key.tokensPerDay;
  }

  charge(key: RouterKey, tokens: number, now = Date.now()): void {
    if (key.tokensPerDay === null || !(tokens > 0)) return;
    const day = Math.floor(now / DAY_MS);
    const d = this.days.get(key.id);
    if (!d || d.day !== day) this.days.set(key.id, { day, used: tokens });
    else d.used += tokens;
  }

  /** Seconds until the next UTC midnight, when budgets renew. */
  static secondsToReset(now = Date.now()): number {
    return Math.max(1, Math.ceil((DAY_MS - (now % DAY_MS)) / 1000));
  }

  private usedToday(id: string, now: number): number {
    const d = this.days.get(id);
    return d && d.day === Math.floor(now / DAY_MS) ? d.used : 0;
  }
}
