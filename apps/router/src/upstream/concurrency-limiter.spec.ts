import { ConcurrencyLimiter, QueueFullError } from './concurrency-limiter';

describe(ConcurrencyLimiter.name, () => {
  it('lets max calls through, queues the next in order, and turns the rest away', async () => {
    const l = new ConcurrencyLimiter(2, 2, 1000);
    const a = await l.acquire();
    await l.acquire();
    const order: string[] = [];
    const c = l.acquire().then((r) => (order.push('c'), r));
    const d = l.acquire().then((r) => (order.push('d'), r));
    await expect(l.acquire()).rejects.toEqual(new QueueFullError('queue-full'));
    expect([l.active, l.waiting]).toEqual([2, 2]);
    a();
    a(); // releasing twice is harmless
    (await c)();
    (await d)();
    expect(order).toEqual(['c', 'd']);
    expect(l.active).toBe(1);
  });

  it('gives up on a queued caller after the queue timeout', async () => {
    const l = new ConcurrencyLimiter(1, 5, 20);
    await l.acquire();
    await expect(l.acquire()).rejects.toEqual(new QueueFullError('queue-timeout'));
    expect(l.waiting).toBe(0);
  });

  it('never queues a try', () => {
    const l = new ConcurrencyLimiter(1, 5, 1000);
    const release = l.tryAcquire();
    expect(release).not.toBeNull();
    expect(l.tryAcquire()).toBeNull();
    release!();
    expect(l.tryAcquire()).not.toBeNull();
  });
});
