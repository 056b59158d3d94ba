/** A bucket untouched this long has refilled completely: it carries no information any more. */
const REFILL_MS = 60_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Per-key token bucket (requests per minute, bursts up to the same number). In memory, per router
 * replica: a fairness guard against one noisy user, not a billing quota.
 *
 * Buckets live in two generations that turn over every minute: a key used in the last minute is
 * in `current` (moved there from `previous` on use), and a whole generation untouched for a minute
 * is dropped in one step — its buckets have refilled, so forgetting them changes no answer. The
 * limiter used to sweep one map entry by entry once a minute: with a key per user that was a
 * once-a-minute stall of the event loop proportional to the keys of the last minute: 60-90 ms for
 * the 180,000 keys of a minute at 3,000 requests a second (each unsticky request had a key of its
 * own then; the proxy no longer rate-limits those).
 */
export class RateLimiter {
  private current = new Map<string, Bucket>();
  private previous = new Map<string, Bucket>();
  private readonly perMs: number;
  private turnedAt: number;

  constructor(
    private readonly perMinute: number,
    now = Date.now(),
  ) {
    this.perMs = perMinute / 60_000;
    this.turnedAt = now;
  }

  /** Returns 0 when allowed, otherwise the seconds to wait. */
  take(key: string, now = Date.now()): number {
    if (this.perMinute <= 0) return 0;
    this.turnOver(now);
    let b = this.current.get(key);
    if (b === undefined) {
      b = this.previous.get(key) ?? { tokens: this.perMinute, at: now };
      this.previous.delete(key);
      this.current.set(key, b);
    }
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
  }

  /** Keys with a bucket (for tests and metrics). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  private turnOver(now: number): void {
    if (now - this.turnedAt < REFILL_MS) return;
    // Two minutes or more without a request: both generations are full buckets.
    this.previous = now - this.turnedAt >= 2 * REFILL_MS ? new Map<string, Bucket>() : this.current;
    this.current = new Map();
    this.turnedAt = now;
  }
}
