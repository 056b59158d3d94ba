/** An error kafkajs marks as worth another try (a topic whose leader is not elected yet, say). */
export function isRetriable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}

export interface RetryOptions {
  /** Tries in all, the first included. */
  readonly attempts: number;
  /** The wait before the n-th retry is n times this. */
  readonly delayMs: number;
  readonly onRetry?: (err: unknown, attempt: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` again while it fails with an error kafkajs calls retriable, at most `attempts` times in
 * all; any other error, or the last one, is thrown. kafkajs retries inside a request, but a consumer's
 * `subscribe` on a topic the broker is still creating fails with UNKNOWN_TOPIC_OR_PARTITION at once.
 */
export async function retryRetriable<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const sleep = opts.sleep ?? wait;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriable(err) || attempt >= opts.attempts) throw err;
      opts.onRetry?.(err, attempt);
      await sleep(opts.delayMs * attempt);
    }
  }
}
