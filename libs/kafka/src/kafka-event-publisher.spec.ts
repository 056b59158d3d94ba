import {
  KafkaEventPublisher,
  type BatchProducer,
  type KafkaEventPublisherOptions,
  type TopicBatch,
} from './kafka-event-publisher';

/** A producer whose every call is decided by the test: auto-succeed, fail, or hang until settled by hand. */
class FakeProducer implements BatchProducer {
  readonly batches: TopicBatch[][] = [];
  connects = 0;
  disconnects = 0;
  connectError: Error | null = null;
  /** Errors for the next sends, in order; when empty, sends succeed (or hang when `manual`). */
  sendErrors: Error[] = [];
  manual = false;
  /** When > 0 (and not manual), sends succeed after this many ms: a broker round trip. */
  sendDelayMs = 0;
  private pending: { resolve: () => void; reject: (e: Error) => void }[] = [];

  connect(): Promise<void> {
    this.connects++;
    return this.connectError ? Promise.reject(this.connectError) : Promise.resolve();
  }

  sendBatch(batch: readonly TopicBatch[]): Promise<void> {
    this.batches.push([...batch]);
    const error = this.sendErrors.shift();
    if (error !== undefined) return Promise.reject(error);
    if (this.manual) return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
    if (this.sendDelayMs > 0) return new Promise((resolve) => setTimeout(resolve, this.sendDelayMs));
    return Promise.resolve();
  }

  disconnect(): Promise<void> {
    this.disconnects++;
    return Promise.resolve();
  }

  get inFlight(): number {
    return this.pending.length;
  }

  settle(error?: Error): void {
    const next = this.pending.shift();
    if (!next) throw new Error('no send in flight');
    if (error === undefined) next.resolve();
    else next.reject(error);
  }

  /** The events it was asked to send, decoded, in order. */
  get sent(): { topic: string; key: string; value: unknown }[] {
    return this.batches.flatMap((b) =>
      b.flatMap(({ topic, messages }) =>
        messages.map((m) => ({ topic, key: m.key, value: JSON.parse(m.value.toString('utf8')) as unknown })),
      ),
    );
  }
}

const connectionRefused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:19092'), {
  name: 'KafkaJSNumberOfRetriesExceeded',
  retriable: false,
  cause: Object.assign(new Error('connect ECONNREFUSED'), {
    name: 'KafkaJSConnectionError',
    retriable: true,
  }),
});
const protocolError = (type: string, retriable: boolean) =>
  Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type, retriable });

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe(KafkaEventPublisher.name, () => {
  const open: KafkaEventPublisher[] = [];
  let producers: FakeProducer[];
  let logs: string[];
  const make = (
    options: Partial<KafkaEventPublisherOptions> = {},
    setup: (p: FakeProducer, n: number) => void = () => undefined,
  ) => {
    const publisher = new KafkaEventPublisher({
      brokers: ['unused:9092'],
      clientId: 'spec',
      lingerMs: 5,
      retryBackoff: { initialMs: 5, maxMs: 20 },
      log: (_level, m) => logs.push(m),
      producerFactory: () => {
        const p = new FakeProducer();
        setup(p, producers.length);
        producers.push(p);
        return p;
      },
      ...options,
    });
    open.push(publisher);
    return publisher;
  };
  const producer = (i = 0): FakeProducer => {
    const p = producers[i];
    if (!p) throw new Error(`producer ${i} was not created`);
    return p;
  };

  beforeEach(() => {
    producers = [];
    logs = [];
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close(50)));
  });

  it('returns from publish at once and sends after the linger, JSON-encoded, with the given key', async () => {
    // A linger far above the 10 ms look below, so a starved CI machine cannot blur the two.
    const publisher = make({ lingerMs: 300 });
    expect(publisher.publish('t.a', 'k1', { n: 1, at: new Date(0) })).toBe(true);
    expect(publisher.publish('t.b', 'k2', [1, 'two'])).toBe(true);
    expect(producers).toHaveLength(0); // connected lazily, never inside publish()
    expect(publisher.stats()).toEqual({ buffered: 2, published: 0, dropped: 0, healthy: true });

    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(producers).toHaveLength(0); // still lingering
    await waitFor(() => publisher.stats().published === 2, 'the batch');
    expect(producer().batches).toEqual([
      [
        {
          topic: 't.a',
          messages: [{ key: 'k1', value: Buffer.from('{"n":1,"at":"1970-01-01T00:00:00.000Z"}') }],
        },
        { topic: 't.b', messages: [{ key: 'k2', value: Buffer.from('[1,"two"]') }] },
      ],
    ]);
    expect(publisher.stats()).toEqual({ buffered: 0, published: 2, dropped: 0, healthy: true });
  });

  it('sends a full batch without waiting for the linger, and keeps one batch in flight', async () => {
    const publisher = make({ lingerMs: 60_000, batchSize: 10 }, (p) => (p.manual = true));
    for (let i = 0; i < 25; i++) publisher.publish('t', `k${i}`, i);
    await waitFor(() => producers[0]?.inFlight === 1, 'the first batch');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(producer().batches).toHaveLength(1);
    expect(publisher.stats().buffered).toBe(25);

    producer().settle();
    await waitFor(() => producer().inFlight === 1 && producer().batches.length === 2, 'the second batch');
    producer().settle();
    // The last 5 do not make a batch: they wait for company until the oldest of them is lingerMs old.
    await waitFor(() => publisher.stats().published === 20, 'two batches published');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(producer().batches.map((b) => b[0]?.messages.length)).toEqual([10, 10]);
    expect(publisher.stats().buffered).toBe(5);
  });

  it('sends a partial batch at once after a send when its oldest event has already waited the linger', async () => {
    const publisher = make({ lingerMs: 50, batchSize: 10 }, (p) => (p.manual = true));
    for (let i = 0; i < 15; i++) publisher.publish('t', `k${i}`, i);
    await waitFor(() => producers[0]?.inFlight === 1, 'the first batch');
    await new Promise((resolve) => setTimeout(resolve, 80)); // the send outlasts the linger
    producer().settle();
    await waitFor(() => producer().batches.length === 2, 'the rest, without another linger');
    producer().settle();
    await waitFor(() => publisher.stats().published === 15, 'all published');
    expect(producer().batches.map((b) => b[0]?.messages.length)).toEqual([10, 5]);
    expect(producer().sent.map((e) => e.value)).toEqual([...Array(15).keys()]);
  });

  it('batches a steady stream by the linger, not by how long the previous send took', async () => {
    const publisher = make({ lingerMs: 40, batchSize: 500 }, (p) => (p.sendDelayMs = 5));
    for (let i = 0; i < 60; i++) {
      publisher.publish('t', `k${i}`, i);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await waitFor(() => publisher.stats().published === 60, 'all published');
    // ~150 ms of events with a 40 ms linger: a handful of batches, not one per 5 ms send.
    expect(producer().batches.length).toBeLessThanOrEqual(6);
  });

  it('returns false and counts a drop when the buffer is full, without touching the buffered events', () => {
    const publisher = make({ maxBuffered: 5 });
    const accepted = [...Array(8).keys()].map((i) => publisher.publish('t', 'k', i));
    expect(accepted).toEqual([true, true, true, true, true, false, false, false]);
    expect(publisher.stats()).toEqual({ buffered: 5, published: 0, dropped: 3, healthy: true });
    expect(logs.filter((l) => l.includes('buffer full'))).toHaveLength(1); // once, not per drop
  });

  it('keeps a failed batch at the head and retries it with backoff until it is delivered, in order', async () => {
    const publisher = make({}, (p) => (p.sendErrors = [connectionRefused, connectionRefused]));
    for (let i = 0; i < 3; i++) publisher.publish('t', 'k', i);
    await waitFor(() => producers[0]?.batches.length === 1, 'the first attempt');
    await waitFor(() => !publisher.stats().healthy, 'unhealthy');
    publisher.publish('t', 'k', 3);
    await waitFor(() => publisher.stats().published === 4, 'delivery');
    expect(publisher.stats()).toEqual({ buffered: 0, published: 4, dropped: 0, healthy: true });
    const attempts = producer().batches.map((b) =>
      b.flatMap((t) => t.messages.map((m) => Number(m.value.toString()))),
    );
    // Two failures, then one send with everything; the event published meanwhile queues behind the batch.
    expect(attempts).toHaveLength(3);
    expect(attempts[0]).toEqual([0, 1, 2]);
    expect(attempts[2]).toEqual([0, 1, 2, 3]);
    // Transient failures keep the producer (and its idempotent sequence numbers) for the retry.
    expect(producers).toHaveLength(1);
    expect(logs.some((l) => l.includes('send failed (attempt 1'))).toBe(true);
    expect(logs.some((l) => l.includes('delivering again'))).toBe(true);
  });

  it('drops the oldest events, not the newest, when a failed batch no longer fits back', async () => {
    const publisher = make({ maxBuffered: 10, batchSize: 5, lingerMs: 0 }, (p) => (p.manual = true));
    for (let i = 0; i < 5; i++) publisher.publish('t', 'k', i);
    await waitFor(() => producers[0]?.inFlight === 1, 'the first batch in flight');
    // The batch in flight left the queue: ten newer events fit, the eleventh does not.
    const accepted = [...Array(11).keys()].map((i) => publisher.publish('t', 'k', 5 + i));
    expect(accepted.filter(Boolean)).toHaveLength(10);
    expect(publisher.stats()).toMatchObject({ buffered: 15, dropped: 1 });

    producer().settle(connectionRefused);
    await waitFor(() => producer().inFlight === 1, 'the retry');
    expect(publisher.stats()).toMatchObject({ buffered: 10, dropped: 6, healthy: false });
    producer().manual = false;
    producer().settle();
    await waitFor(() => publisher.stats().published === 10, 'delivery');
    expect(
      producer()
        .sent.slice(-10)
        .map((e) => e.value),
    ).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(publisher.stats()).toEqual({ buffered: 0, published: 10, dropped: 6, healthy: true });
  });

  it('connects lazily and makes a new producer after a failed connect', async () => {
    const publisher = make({}, (p, n) => (p.connectError = n === 0 ? connectionRefused : null));
    publisher.publish('t', 'k', 1);
    await waitFor(() => publisher.stats().published === 1, 'delivery');
    expect(producers).toHaveLength(2);
    expect(producer(0).disconnects).toBe(1);
    expect(producer(1).sent).toEqual([{ topic: 't', key: 'k', value: 1 }]);
    expect(logs.some((l) => l.includes('connect failed'))).toBe(true);
  });

  it('makes a new producer when the broker rejects the producer state, and resends the batch', async () => {
    const publisher = make(
      {},
      (p, n) => (p.sendErrors = n === 0 ? [protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', false)] : []),
    );
    publisher.publish('t', 'k', 1);
    await waitFor(() => publisher.stats().published === 1, 'delivery');
    expect(producers).toHaveLength(2);
    expect(producer(1).sent.map((e) => e.value)).toEqual([1]);
    expect(publisher.stats().dropped).toBe(0);
  });

  it('drops and counts a batch the broker refuses for good, and goes on with the next', async () => {
    const publisher = make(
      { batchSize: 2, lingerMs: 0 },
      (p) => (p.sendErrors = [protocolError('TOPIC_AUTHORIZATION_FAILED', false)]),
    );
    publisher.publish('t', 'k', 1);
    await waitFor(() => publisher.stats().dropped === 1, 'the refused batch');
    publisher.publish('t', 'k', 2);
    await waitFor(() => publisher.stats().published === 1, 'the next batch');
    expect(producer().sent.map((e) => e.value)).toEqual([1, 2]);
    expect(producers).toHaveLength(1);
    expect(logs.some((l) => l.includes('refused a batch of 1 event(s)'))).toBe(true);
  });

  it('drops values JSON cannot encode and events over maxEventBytes, sending the rest', async () => {
    const publisher = make({ maxEventBytes: 200 });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(publisher.publish('t', 'k', 1n)).toBe(true); // decided at send time, not in publish()
    publisher.publish('t', 'k', circular);
    publisher.publish('t', 'k', 'x'.repeat(500));
    publisher.publish('t', 'k', 'fine');
    await waitFor(() => publisher.stats().published === 1, 'delivery');
    expect(producer().sent.map((e) => e.value)).toEqual(['fine']);
    expect(publisher.stats()).toEqual({ buffered: 0, published: 1, dropped: 3, healthy: true });
  });

  it('caps a batch in bytes, always sending at least one event', async () => {
    const publisher = make({ maxBatchBytes: 300, lingerMs: 0 }); // ~135 bytes per 100-char event
    for (let i = 0; i < 5; i++) publisher.publish('t', 'k', 'x'.repeat(100));
    publisher.publish('t', 'k', 'y'.repeat(400));
    await waitFor(() => publisher.stats().published === 6, 'delivery');
    expect(producer().batches.map((b) => b[0]?.messages.length)).toEqual([2, 2, 1, 1]);
  });

  it('never throws into the caller and leaves no unhandled rejection when everything fails', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const publisher = new KafkaEventPublisher({
        brokers: ['unused:9092'],
        clientId: 'spec',
        lingerMs: 0,
        retryBackoff: { initialMs: 1, maxMs: 2 },
        producerFactory: () => {
          throw new Error('cannot even construct');
        },
      });
      open.push(publisher);
      for (let i = 0; i < 100; i++) expect(publisher.publish('t', 'k', i)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(publisher.stats()).toMatchObject({ buffered: 100, published: 0, healthy: false });
      await publisher.close(20);
      expect(publisher.stats()).toEqual({ buffered: 0, published: 0, dropped: 100, healthy: false });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('close flushes what is buffered, then disconnects, and refuses later events', async () => {
    const publisher = make({ lingerMs: 60_000, batchSize: 7 });
    for (let i = 0; i < 20; i++) publisher.publish('t', 'k', i);
    await publisher.close(1_000);
    expect(publisher.stats()).toEqual({ buffered: 0, published: 20, dropped: 0, healthy: true });
    expect(producer().disconnects).toBe(1);
    expect(publisher.publish('t', 'k', 'late')).toBe(false);
    expect(publisher.stats().dropped).toBe(1);
  });

  it('close gives up at its timeout and counts what it could not deliver as dropped', async () => {
    const publisher = make({}, (p) => (p.sendErrors = Array<Error>(1_000).fill(connectionRefused)));
    for (let i = 0; i < 30; i++) publisher.publish('t', 'k', i);
    const started = Date.now();
    await publisher.close(100);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(publisher.stats()).toEqual({ buffered: 0, published: 0, dropped: 30, healthy: false });
    expect(logs.some((l) => l.includes('closed with 30 event(s) undelivered'))).toBe(true);
  });

  it('close does not wait for a send that never answers beyond its timeout', async () => {
    const publisher = make({ lingerMs: 0 }, (p) => (p.manual = true));
    for (let i = 0; i < 3; i++) publisher.publish('t', 'k', i);
    await waitFor(() => producers[0]?.inFlight === 1, 'the hanging send');
    await publisher.close(50);
    expect(publisher.stats()).toEqual({ buffered: 0, published: 0, dropped: 3, healthy: true });
    producer().settle(); // a late acknowledgement does not count twice
    await new Promise((resolve) => setImmediate(resolve));
    expect(publisher.stats()).toMatchObject({ published: 0, dropped: 3 });
  });

  it('costs O(1) per publish regardless of how much is buffered', () => {
    const publisher = make({ maxBuffered: 200_000 }, (p) => (p.connectError = connectionRefused));
    const event = { schema: 'aviary.outcome.v1', requestId: 'r', latencyMs: 12.5, status: 200 };
    const time = (n: number) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < n; i++) publisher.publish('t', 'k', event);
      return Number(process.hrtime.bigint() - started) / n;
    };
    time(10_000); // warm up
    const early = time(50_000);
    const late = time(100_000); // 160,000 buffered by the end
    expect(late).toBeLessThan(early * 5 + 500);
    expect(late).toBeLessThan(5_000); // ns per publish; loose for slow CI machines
  });
});
