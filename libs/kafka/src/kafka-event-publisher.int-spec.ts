import { createHook } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { startTcpProxy, type TcpProxy } from '@aviary/testing';
import { ensureTopics } from './kafka-admin';
import type { KafkaLogLevel } from './kafka-client';
import { KafkaEventPublisher } from './kafka-event-publisher';
import { KafkaEventSubscriber } from './kafka-event-subscriber';
import { kafkajsUsesNativeCrc32c } from './kafkajs-crc32c';

/*
 * Against a real Apache Kafka broker (scripts/services/kafka.sh) with the real kafkajs client. Every run uses
 * fresh topic and group names and deletes its topics, so runs (and other people's runs) never collide.
 */
const BROKERS = (process.env.KAFKA_BROKERS ?? '')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
if (BROKERS.length === 0) {
  throw new Error(
    'KAFKA_BROKERS is not set. Start the test broker with scripts/services/kafka.sh, e.g. ' +
      '`KAFKA_BROKERS=$(bash scripts/services/kafka.sh --url) npx jest libs/kafka --selectProjects integration --runInBand`.',
  );
}
const [BROKER_HOST = '127.0.0.1', BROKER_PORT = '9092'] = (BROKERS[0] ?? '').split(':');
const RUN = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
const topicName = (what: string) => `aviary.int.${RUN}.${what}`;

interface TestEvent {
  schema: 'aviary.outcome.v1';
  requestId: string;
  rolloutId: string;
  seq: number;
  latencyMs: number;
  at: string;
}
const event = (phase: string, seq: number): TestEvent => ({
  schema: 'aviary.outcome.v1',
  requestId: `${phase}-${seq}`,
  rolloutId: `ro-${seq % 7}`,
  seq,
  latencyMs: 12.5 + (seq % 100),
  at: new Date(1_700_000_000_000 + seq).toISOString(),
});

/** Every event on `topic`, read back by a fresh consumer group from the beginning. */
async function readAll(
  topic: string,
  expected: number,
  settleMs = 1_500,
): Promise<{ key: string; value: TestEvent }[]> {
  const received: { key: string; value: TestEvent }[] = [];
  const subscriber = new KafkaEventSubscriber({
    brokers: BROKERS,
    clientId: 'aviary-int-reader',
    groupId: `aviary-int-reader-${RUN}-${topic}`,
    fromBeginning: true,
  });
  await subscriber.subscribe(
    [topic],
    handle((_t, key, value) => received.push({ key, value: value as TestEvent })),
  );
  try {
    await waitFor(() => received.length >= expected, `${expected} events on ${topic}`, 30_000);
    await sleep(settleMs); // anything beyond the expected count (duplicates) would show up now
  } finally {
    await subscriber.close();
  }
  return received;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A subscriber handler from a synchronous function. */
const handle =
  (fn: (topic: string, key: string, value: unknown) => unknown) =>
  (topic: string, key: string, value: unknown): Promise<void> => {
    fn(topic, key, value);
    return Promise.resolve();
  };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Figures for the report at the end of the run. */
const figures: Record<string, string | number> = {};

describe(KafkaEventPublisher.name, () => {
  jest.setTimeout(120_000);
  const topics: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  const logs: string[] = [];
  const log = (_level: KafkaLogLevel, m: string) => void logs.push(m);

  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    const admin = new Kafka({
      clientId: 'aviary-int-cleanup',
      brokers: BROKERS,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    process.stdout.write(`\nkafka int-spec figures: ${JSON.stringify(figures, null, 2)}\n`);
  });
  afterEach(() => expect(unhandled).toEqual([]));

  it('creates topics once, publishes events and reads every one back with a consumer group', async () => {
    const topic = topicName('roundtrip');
    topics.push(topic);
    expect(await ensureTopics(BROKERS, [topic], 3)).toEqual([topic]);
    expect(await ensureTopics(BROKERS, [topic], 3)).toEqual([]);

    // A value that is not JSON, written by someone else: the subscriber must skip it, not stop.
    const raw = new Kafka({
      clientId: 'aviary-int-raw',
      brokers: BROKERS,
      logLevel: logLevel.NOTHING,
    }).producer();
    await raw.connect();
    await raw.send({ topic, messages: [{ key: 'ro-0', value: 'not json {' }] });
    await raw.disconnect();

    const N = 5_000;
    const publisher = new KafkaEventPublisher({ brokers: BROKERS, clientId: 'aviary-int-publisher', log });
    const sent = Array.from({ length: N }, (_, i) => event('rt', i));
    const accepted = new Array<boolean>(N);
    const started = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const e = sent[i] as TestEvent;
      accepted[i] = publisher.publish(topic, e.rolloutId, e);
    }
    figures.publishNsPerEventBrokerUp = Math.round(Number(process.hrtime.bigint() - started) / N);
    expect(accepted.every(Boolean)).toBe(true);
    const flushStarted = Date.now();
    await waitFor(() => publisher.stats().published === N, `${N} published`, 30_000);
    figures.deliverMs5000 = Date.now() - flushStarted;
    await publisher.close(5_000);
    expect(publisher.stats()).toEqual({ buffered: 0, published: N, dropped: 0, healthy: true });

    const skipped: string[] = [];
    const received: { key: string; value: TestEvent }[] = [];
    const group = `aviary-int-group-${RUN}`;
    const subscriber = new KafkaEventSubscriber({
      brokers: BROKERS,
      clientId: 'aviary-int-subscriber',
      groupId: group,
      fromBeginning: true,
      log: (_level, m) => skipped.push(m),
    });
    await subscriber.subscribe(
      [topic],
      handle((_t, key, value) => received.push({ key, value: value as TestEvent })),
    );
    await waitFor(() => received.length >= N, `${N} events consumed`, 30_000);
    await sleep(1_000);
    await subscriber.close(); // commits the handled offsets

    expect(received).toHaveLength(N);
    expect(skipped.filter((m) => m.includes('non-JSON'))).toHaveLength(1);
    const bySeq = new Map(received.map((r) => [r.value.seq, r]));
    expect(bySeq.size).toBe(N);
    for (const e of sent) expect(bySeq.get(e.seq)).toEqual({ key: e.rolloutId, value: e });
    // One key, one partition: per-rollout order is publish order.
    for (const key of new Set(sent.map((e) => e.rolloutId))) {
      const seqs = received.filter((r) => r.key === key).map((r) => r.value.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }

    // The group committed what it handled: a new member resumes after it and sees only the new event.
    const later = new KafkaEventPublisher({ brokers: BROKERS, clientId: 'aviary-int-publisher' });
    const resumed: TestEvent[] = [];
    const again = new KafkaEventSubscriber({
      brokers: BROKERS,
      clientId: 'aviary-int-subscriber',
      groupId: group,
    });
    await again.subscribe(
      [topic],
      handle((_t, _k, value) => resumed.push(value as TestEvent)),
    );
    later.publish(topic, 'ro-1', event('after', 1));
    await later.close(5_000);
    await waitFor(() => resumed.length >= 1, 'the event published after the commit', 30_000);
    await sleep(500);
    await again.close();
    expect(resumed.map((e) => e.requestId)).toEqual(['after-1']);
  });

  it('has the broker accept large events in batches checksummed natively, and reads them back', async () => {
    const topic = topicName('crc');
    topics.push(topic);
    await ensureTopics(BROKERS, [topic], 1);
    const publisher = new KafkaEventPublisher({ brokers: BROKERS, clientId: 'aviary-int-crc', log });
    // The broker checks every batch's CRC-32C (CORRUPT_MESSAGE otherwise): a pair event that captured
    // a long prompt and two answers, with non-ASCII text.
    const big = (seq: number) => ({ ...event('crc', seq), prompt: `ünïcode prompt ${seq} `.repeat(3_000) });
    const sent = Array.from({ length: 40 }, (_, i) => big(i));
    for (const e of sent) publisher.publish(topic, e.rolloutId, e);
    await waitFor(() => publisher.stats().published === sent.length, 'the large events', 30_000);
    expect(kafkajsUsesNativeCrc32c()).toBe(true);
    await publisher.close(5_000);
    expect(publisher.stats()).toEqual({ buffered: 0, published: sent.length, dropped: 0, healthy: true });
    const received = await readAll(topic, sent.length, 500);
    expect(received.map((r) => r.value).sort((a, b) => a.seq - b.seq)).toEqual(sent);
  });

  it('leaves a connected, idle producer without a timer loop (kafkajs#1556)', async () => {
    const topic = topicName('idle');
    topics.push(topic);
    await ensureTopics(BROKERS, [topic], 1);
    const publisher = new KafkaEventPublisher({ brokers: BROKERS, clientId: 'aviary-int-idle', log });
    publisher.publish(topic, 'k', event('idle', 0));
    await waitFor(() => publisher.stats().published === 1, 'the first event', 30_000);
    await sleep(200);
    let timers = 0;
    const hook = createHook({
      init: (_id, type) => {
        if (type === 'Timeout') timers++;
      },
    }).enable();
    await sleep(1_000);
    hook.disable();
    await publisher.close();
    figures['timers armed in 1 s by an idle producer'] = timers;
    // kafkajs 2.2.4 unpatched re-arms a 1 ms timer per broker connection: about 1,000 here.
    expect(timers).toBeLessThan(50);
  });

  describe('when the broker is unreachable', () => {
    let proxy: TcpProxy;
    beforeEach(async () => {
      proxy = await startTcpProxy(Number(BROKER_PORT), BROKER_HOST);
    });
    afterEach(async () => {
      await proxy.close();
    });

    it('keeps publish() fast, buffers to the bound, counts drops and delivers the buffer after restore', async () => {
      const topic = topicName('outage');
      topics.push(topic);
      await ensureTopics(BROKERS, [topic], 3);
      const MAX = 20_000;
      const publisher = new KafkaEventPublisher({
        brokers: BROKERS,
        clientId: 'aviary-int-outage',
        maxBuffered: MAX,
        retryBackoff: { initialMs: 100, maxMs: 1_000 },
        // Brokers advertise their own address and clients reconnect to it after bootstrap, so a proxy on
        // another port would be bypassed; every socket kafkajs opens goes through the proxy instead.
        socketFactory: ({ onConnect }) => connect({ host: '127.0.0.1', port: proxy.port }, onConnect),
        log,
      });
      let calls = 0;
      const accepted = new Set<string>();
      /** Publishes pre-built events; the timing covers publish() only. */
      const publishAll = (events: TestEvent[]): { ok: boolean[]; ms: number } => {
        const ok = new Array<boolean>(events.length);
        const started = process.hrtime.bigint();
        for (let i = 0; i < events.length; i++) {
          const e = events[i] as TestEvent;
          ok[i] = publisher.publish(topic, e.rolloutId, e);
        }
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        calls += events.length;
        events.forEach((e, i) => ok[i] && accepted.add(e.requestId));
        return { ok, ms: Number(ms.toFixed(2)) };
      };
      const build = (phase: string, n: number) => Array.from({ length: n }, (_, i) => event(phase, i));

      // Up: the first events go through the proxy.
      const up = publishAll(build('up', 1_000));
      expect(up.ok.every(Boolean)).toBe(true);
      await waitFor(() => publisher.stats().published === 1_000, 'delivery through the proxy', 30_000);

      // Down.
      await proxy.cut();
      const down = publishAll(build('down', 10_000));
      figures.tenThousandPublishesWhileDownMs = down.ms;
      expect(down.ok.every(Boolean)).toBe(true);
      expect(down.ms).toBeLessThan(50);
      const downSince = Date.now();
      await waitFor(() => !publisher.stats().healthy, 'a failed send', 30_000);
      figures.msUntilUnhealthy = Date.now() - downSince;

      // Past the bound: the newest are refused and counted; publish() stays just as fast.
      const over = publishAll(build('over', 15_000));
      figures.fifteenThousandPublishesPastBoundMs = over.ms;
      expect(over.ms).toBeLessThan(75);
      const refused = over.ok.filter((ok) => !ok).length;
      figures.refusedPastBound = refused;
      expect(refused).toBeGreaterThan(4_000);
      const whileDown = publisher.stats();
      figures.statsWhileDown = JSON.stringify(whileDown);
      expect(whileDown.healthy).toBe(false);
      expect(whileDown.buffered).toBeLessThanOrEqual(MAX + 500);
      expect(whileDown.dropped).toBeGreaterThanOrEqual(refused);
      await sleep(2_000); // a few retries while down: nothing leaks, nothing is delivered
      expect(publisher.stats().published).toBe(1_000);

      // Up again: everything still buffered is delivered.
      await proxy.restore();
      const restoredAt = Date.now();
      await waitFor(() => publisher.stats().buffered === 0, 'the buffer to drain after restore', 60_000);
      figures.drainAfterRestoreMs = Date.now() - restoredAt;
      const after = publisher.stats();
      figures.statsAfterRestore = JSON.stringify(after);
      expect(after.healthy).toBe(true);
      expect(after.published + after.dropped).toBe(calls);
      await publisher.close(5_000);

      const received = await readAll(topic, after.published);
      const ids = received.map((r) => r.value.requestId);
      const distinct = new Set(ids);
      figures.receivedAfterOutage = received.length;
      figures.duplicatesAfterOutage = ids.length - distinct.size;
      expect(distinct.size).toBe(after.published);
      expect(ids.length).toBe(distinct.size); // idempotent producer: a retried batch is not written twice
      for (const id of distinct) expect(accepted.has(id)).toBe(true);
      // What was dropped beyond the refusals came from the oldest end of the outage, never the newest.
      const lostDown = [...Array(10_000).keys()].filter((i) => !distinct.has(`down-${i}`));
      figures.oldestDroppedOnRetry = lostDown.length;
      if (lostDown.length > 0) expect(Math.max(...lostDown)).toBeLessThan(lostDown.length);
      expect(accepted.size - distinct.size).toBe(lostDown.length);
      expect(logs.some((l) => l.includes('buffer full'))).toBe(true);
      expect(logs.some((l) => l.includes('delivering again'))).toBe(true);
    });

    it('loses and duplicates nothing when the connection is cut while batches are in flight', async () => {
      const topic = topicName('midflight');
      topics.push(topic);
      await ensureTopics(BROKERS, [topic], 3);
      const publisher = new KafkaEventPublisher({
        brokers: BROKERS,
        clientId: 'aviary-int-midflight',
        retryBackoff: { initialMs: 100, maxMs: 500 },
        socketFactory: ({ onConnect }) => connect({ host: '127.0.0.1', port: proxy.port }, onConnect),
        log,
      });
      const N = 30_000;
      for (let i = 0; i < N; i++) expect(publisher.publish(topic, `ro-${i % 7}`, event('mid', i))).toBe(true);
      await waitFor(() => publisher.stats().published >= 2_000, 'the first batches', 30_000);
      await proxy.cut(); // sends go out back to back, so one is usually on the wire
      const cutAt = publisher.stats();
      await sleep(1_500);
      await proxy.restore();
      const restoredAt = Date.now();
      await waitFor(() => publisher.stats().buffered === 0, 'the rest after restore', 60_000);
      figures.midflightDrainAfterRestoreMs = Date.now() - restoredAt;
      figures.midflightCutAt = JSON.stringify(cutAt);
      expect(publisher.stats()).toMatchObject({ published: N, dropped: 0, healthy: true });
      await publisher.close(5_000);

      const readStarted = Date.now();
      const received = await readAll(topic, N);
      figures.midflightReadBackMs = Date.now() - readStarted;
      const ids = received.map((r) => r.value.requestId);
      figures.midflightDuplicates = ids.length - new Set(ids).size;
      expect(new Set(ids).size).toBe(N);
      expect(ids.length).toBe(N);
    });
  });
});
