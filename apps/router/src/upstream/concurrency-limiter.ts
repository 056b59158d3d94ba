export class QueueFullError extends Error {
  constructor(readonly reason: 'queue-full' | 'queue-timeout') {
    super(
      reason === 'queue-full'
        ? 'too many requests waiting for this upstream'
        : 'waited too long for this upstream',
    );
  }
}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * At most `max` calls in flight; up to `maxQueue` wait in FIFO order for at most `queueTimeoutMs`;
 * beyond that callers are turned away at once (the router answers 429 with Retry-After) instead of
 * piling onto an upstream that is already saturated.
 */
export class ConcurrencyLimiter {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    readonly max: number,
    readonly maxQueue: number,
    readonly queueTimeoutMs: number,
  ) {}

  get active(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves with a release function; call it exactly once. */
  acquire(): Promise<() => void> {
    if (this.inFlight < this.max) {
      this.inFlight++;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.maxQueue) return Promise.reject(new QueueFullError('queue-full'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.queue.indexOf(waiter);
          if (i !== -1) this.queue.splice(i, 1);
          reject(new QueueFullError('queue-timeout'));
        }, this.queueTimeoutMs),
      };
      this.queue.push(waiter);
    });
  }

  /** Takes a slot only if one is free now (shadow traffic never queues). */
  tryAcquire(): (() => void) | null {
    if (this.inFlight >= this.max) return null;
    this.inFlight++;
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) {
        clearTimeout(next.timer);
        next.resolve(this.releaser());
      } else {
        this.inFlight--;
      }
    };
  }
}

/** One limiter per upstream base URL, created on first use. */
export class LimiterRegistry {
  private readonly limiters = new Map<string, ConcurrencyLimiter>();

  constructor(private readonly make: () => ConcurrencyLimiter) {}

  for(key: string): ConcurrencyLimiter {
    let l = this.limiters.get(key);
    if (!l) {
      l = this.make();
      this.limiters.set(key, l);
    }
    return l;
  }

  entries(): IterableIterator<[string, ConcurrencyLimiter]> {
    return this.limiters.entries();
  }
}
