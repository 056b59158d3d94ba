import { InProcessEventBus } from './in-process-event-bus';

/** A subscriber handler from a synchronous function. */
const handle =
  (fn: (topic: string, key: string, value: unknown) => unknown) =>
  (topic: string, key: string, value: unknown): Promise<void> => {
    fn(topic, key, value);
    return Promise.resolve();
  };

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

type Seen = { topic: string; key: string; value: unknown };

describe(InProcessEventBus.name, () => {
  const open: InProcessEventBus[] = [];
  let logs: string[];
  const make = (options: { maxBuffered?: number; batchSize?: number } = {}) => {
    const bus = new InProcessEventBus({ ...options, log: (_level, m) => logs.push(m) });
    open.push(bus);
    return bus;
  };
  beforeEach(() => (logs = []));
  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close(50)));
  });

  it('hands batch subscribers each taken batch of their topics in one call, beside per-event subscribers', async () => {
    const bus = make({ batchSize: 4 });
    const batches: Seen[][] = [];
    const single: unknown[] = [];
    await bus.subscribeBatches(['a'], (events) => {
      batches.push(events.map((e) => ({ ...e })));
      return Promise.resolve();
    });
    await bus.subscribe(
      ['a', 'b'],
      handle((_t, _k, v) => single.push(v)),
    );
    for (let i = 0; i < 6; i++) bus.publish(i % 3 === 2 ? 'b' : 'a', `k${i}`, { i });
    await waitFor(() => single.length === 6, 'all events');
    await waitFor(() => batches.length === 2, 'two batches');
    // Batches of 4 taken from the queue; the batch subscriber sees only topic 'a' of each.
    expect(batches.map((b) => b.map((e) => (e.value as { i: number }).i))).toEqual([[0, 1, 3], [4]]);
    expect(batches[0]?.[0]).toEqual({ topic: 'a', key: 'k0', value: { i: 0 } });
  });

  it('never runs a handler inside publish(); delivers on a later turn', async () => {
    const bus = make();
    const seen: Seen[] = [];
    await bus.subscribe(
      ['t'],
      handle((topic, key, value) => seen.push({ topic, key, value })),
    );
    expect(bus.publish('t', 'k', 1)).toBe(true);
    await Promise.resolve(); // not even on the next microtask
    expect(seen).toEqual([]);
    await waitFor(() => seen.length === 1, 'delivery');
    expect(seen).toEqual([{ topic: 't', key: 'k', value: 1 }]);
  });

  it('delivers in publish order, as JSON copies like a Kafka consumer would read them', async () => {
    const bus = make({ batchSize: 3 });
    const seen: Seen[] = [];
    await bus.subscribe(
      ['t'],
      handle((topic, key, value) => seen.push({ topic, key, value })),
    );
    const original = { at: new Date(0), nested: { n: 1 }, gone: undefined };
    bus.publish('t', 'k0', original);
    for (let i = 1; i < 10; i++) bus.publish('t', `k${i}`, i);
    await waitFor(() => seen.length === 10, 'delivery');
    expect(seen.map((s) => s.key)).toEqual([...Array(10).keys()].map((i) => `k${i}`));
    expect(seen[0]?.value).toEqual({ at: '1970-01-01T00:00:00.000Z', nested: { n: 1 } });
    expect((seen[0]?.value as { nested: unknown }).nested).not.toBe(original.nested);
    expect(bus.stats()).toEqual({ buffered: 0, published: 10, dropped: 0, healthy: true });
  });

  it('gives each subscriber its topics; events nobody subscribed to count as published', async () => {
    const bus = make();
    const a: string[] = [];
    const b: string[] = [];
    await bus.subscribe(
      ['outcomes', 'pairs'],
      handle((topic) => a.push(topic)),
    );
    await bus.subscribe(
      ['pairs'],
      handle((topic) => b.push(topic)),
    );
    bus.publish('outcomes', 'k', 1);
    bus.publish('pairs', 'k', 2);
    bus.publish('feedback', 'k', 3);
    await waitFor(() => bus.stats().published === 3, 'delivery');
    expect(a).toEqual(['outcomes', 'pairs']);
    expect(b).toEqual(['pairs']);
  });

  it('holds events published before the first subscriber, up to the bound', async () => {
    const bus = make({ maxBuffered: 3 });
    expect([1, 2, 3, 4].map((n) => bus.publish('t', 'k', n))).toEqual([true, true, true, false]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(bus.stats()).toEqual({ buffered: 3, published: 0, dropped: 1, healthy: true });
    const seen: unknown[] = [];
    await bus.subscribe(
      ['t'],
      handle((_t, _k, value) => seen.push(value)),
    );
    await waitFor(() => seen.length === 3, 'delivery');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('drops and counts when a subscriber is slower than the bound, never buffering past it', async () => {
    const bus = make({ maxBuffered: 10 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: unknown[] = [];
    await bus.subscribe(['t'], async (_t, _k, value) => {
      await gate;
      seen.push(value);
    });
    const accepted: boolean[] = [];
    for (let i = 0; i < 10; i++) accepted.push(bus.publish('t', 'k', i));
    await waitFor(
      () => bus.stats().buffered === 10 && logs.length === 0,
      'the slow handler to hold the batch',
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 10; i < 25; i++) accepted.push(bus.publish('t', 'k', i));
    expect(accepted.filter(Boolean)).toHaveLength(10);
    expect(bus.stats()).toEqual({ buffered: 10, published: 0, dropped: 15, healthy: true });
    expect(logs.filter((l) => l.includes('buffer full'))).toHaveLength(1);

    release();
    await waitFor(() => seen.length === 10, 'delivery');
    expect(seen).toEqual([...Array(10).keys()]);
    expect(bus.publish('t', 'k', 'again')).toBe(true);
    await waitFor(() => bus.stats().published === 11, 'the next event');
  });

  it('logs a failing handler and moves on (no redelivery in process)', async () => {
    const bus = make();
    const seen: unknown[] = [];
    await bus.subscribe(['t'], (_t, _k, value) => {
      if (value === 1) return Promise.reject(new Error('handler bug'));
      seen.push(value);
      return Promise.resolve();
    });
    bus.publish('t', 'k', 1);
    await waitFor(() => bus.stats().published === 1, 'the failing delivery');
    expect(bus.stats().healthy).toBe(false);
    bus.publish('t', 'k', 2);
    await waitFor(() => seen.length === 1, 'the next delivery');
    expect(bus.stats()).toEqual({ buffered: 0, published: 2, dropped: 0, healthy: true });
    expect(logs).toEqual(['a t handler failed: handler bug']);
  });

  it('drops values JSON cannot encode and counts them', async () => {
    const bus = make();
    const seen: unknown[] = [];
    await bus.subscribe(
      ['t'],
      handle((_t, _k, value) => seen.push(value)),
    );
    bus.publish('t', 'k', 10n);
    bus.publish('t', 'k', 'ok');
    await waitFor(() => seen.length === 1, 'delivery');
    expect(bus.stats()).toMatchObject({ published: 1, dropped: 1 });
  });

  it('close delivers what is queued, counts the rest as dropped at its timeout, then refuses', async () => {
    const bus = make();
    const seen: unknown[] = [];
    await bus.subscribe(['t'], async (_t, _k, value) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen.push(value);
    });
    for (let i = 0; i < 10; i++) bus.publish('t', 'k', i);
    await bus.close(70);
    const { published, dropped, buffered } = bus.stats();
    expect(buffered).toBe(0);
    expect(published).toBeGreaterThanOrEqual(2);
    expect(published + dropped).toBe(10);
    expect(bus.publish('t', 'k', 'late')).toBe(false);
    await expect(
      bus.subscribe(
        ['t'],
        handle(() => undefined),
      ),
    ).rejects.toThrow('closed');
    await new Promise((resolve) => setTimeout(resolve, 50)); // the handler it stopped waiting for
    expect(bus.stats()).toMatchObject({ published, dropped: dropped + 1 });
  });
});
