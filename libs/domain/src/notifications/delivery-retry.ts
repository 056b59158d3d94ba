/** How a failed delivery is retried: exponential backoff with jitter, a ceiling, then give up. */
export interface RetryPolicy {
  /** Delay after the first failed attempt; doubles with each further failure. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Attempts in all, the first included; after the last failure the delivery is `failed`. */
  readonly maxAttempts: number;
}

export type RetryDecision = { readonly retry: true; readonly delayMs: number } | { readonly retry: false };

/**
 * What to do after the `attempts`-th attempt failed. `random` in [0, 1) spreads retries by ±20 %
 * so a receiver that comes back is not hit by every queued delivery at the same instant; a
 * receiver's `Retry-After` (ms) is honoured up to the ceiling.
 */
export function nextRetry(
  policy: RetryPolicy,
  attempts: number,
  random: number,
  retryAfterMs: number | null = null,
): RetryDecision {
  if (attempts >= policy.maxAttempts) return { retry: false };
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, attempts - 1);
  const jittered = exponential * (0.8 + 0.4 * Math.min(Math.max(random, 0), 1));
  const wanted = Math.max(jittered, retryAfterMs ?? 0);
  return { retry: true, delayMs: Math.round(Math.min(wanted, policy.maxDelayMs)) };
}
