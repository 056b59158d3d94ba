import { nextRetry, type RetryPolicy } from './delivery-retry';

const policy: RetryPolicy = { baseDelayMs: 1000, maxDelayMs: 60_000, maxAttempts: 5 };

describe('nextRetry', () => {
  it.each<[string, number, number, number | null, ReturnType<typeof nextRetry>]>([
    ['retries the first failure after the base delay', 1, 0.5, null, { retry: true, delayMs: 1000 }],
    ['doubles with every further failure', 3, 0.5, null, { retry: true, delayMs: 4000 }],
    ['spreads retries 20 % early at the lowest draw', 2, 0, null, { retry: true, delayMs: 1600 }],
    ['spreads retries 20 % late at the highest draw', 2, 1, null, { retry: true, delayMs: 2400 }],
    ["honours a receiver's Retry-After", 1, 0.5, 30_000, { retry: true, delayMs: 30_000 }],
    [
      'never waits past the ceiling, Retry-After included',
      2,
      0.5,
      3_600_000,
      { retry: true, delayMs: 60_000 },
    ],
    ['gives up after the last attempt', 5, 0.5, null, { retry: false }],
  ])('%s', (_name, attempts, random, retryAfter, expected) => {
    expect(nextRetry(policy, attempts, random, retryAfter)).toEqual(expected);
  });

  it('caps a long backoff at the ceiling', () => {
    expect(nextRetry({ ...policy, maxAttempts: 50 }, 30, 0.5)).toEqual({ retry: true, delayMs: 60_000 });
  });
});
