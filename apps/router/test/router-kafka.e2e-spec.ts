import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { TOPICS } from '@aviary/contracts';
import { ensureTopics, KafkaEventPublisher, KafkaEventSubscriber } from '@aviary/kafka';
import { startTcpProxy, type TcpProxy, testKafkaBrokers, waitFor } from '@aviary/testing';
import { startStack, step, type Stack } from './stack';

// Each suite starts a control plane, a router and model servers: slow on a busy machine.
jest.setTimeout(60_000);

const brokers = testKafkaBrokers;

const ask = (content: string) => [{ role: 'user' as const, content }];

describe('router evidence through a real Kafka broker', () => {
  let proxy: TcpProxy;
  let publisher: KafkaEventPublisher;
  let s: Stack;

  beforeAll(async () => {
    const [host = '127.0.0.1', port = '19092'] = brokers()[0]!.split(':');
    await ensureTopics(brokers(), Object.values(TOPICS), 3);
    // kafkajs dials the broker's advertised address after bootstrapping, so every socket goes
    // through the proxy: cutting it is the broker going away, as far as the router can tell.
    proxy = await startTcpProxy(Number(port), host);
    publisher = new KafkaEventPublisher({
      brokers: brokers(),
      clientId: 'aviary-router-test',
      maxBuffered: 200,
      lingerMs: 10,
      socketFactory: ({ onConnect }) => connect({ host: '127.0.0.1', port: proxy.port }, onConnect),
    });
    const subscriber = new KafkaEventSubscriber({
      brokers: brokers(),
      clientId: 'aviary-router-test-reader',
      groupId: `router-test-${randomUUID()}`,
      fromBeginning: true,
    });
    s = await startStack({}, { events: publisher, subscriber });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await proxy?.close();
  });

  it('streams an outcome for every request and a pair with both outputs for every shadowed one', async () => {
    await s.rollout([step.shadow(1), step.weight(100)]);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { response } = await s.openai.chat.completions
        .create({ model: s.model, messages: ask(`q${i}`), user: `u${i}` })
        .withResponse();
      ids.push(response.headers.get('x-aviary-request-id')!);
    }
    await waitFor(
      'outcomes and pairs from Kafka',
      () =>
        // Outcomes and pairs are different topics: one can be read before the other.
        ids.every(
          (id) =>
            s.pairs.some((p) => p.requestId === id) &&
            s.outcomes.some((o) => o.requestId === id && o.role === 'baseline') &&
            s.outcomes.some((o) => o.requestId === id && o.role === 'shadow'),
        ),
      // The reader's fresh group starts at the topics' beginning, behind every event earlier suites
      // and benchmarks wrote to the shared broker (CI once needed more than 30 s to catch up).
      120_000,
      200,
    );
    for (const id of ids) {
      expect(
        s.outcomes
          .filter((o) => o.requestId === id)
          .map((o) => o.role)
          .sort(),
      ).toEqual(['baseline', 'shadow']);
      const pair = s.pairs.find((p) => p.requestId === id)!;
      expect(pair.baseline.output).toContain('Answer from baseline');
      expect(pair.shadow.output).toContain('Answer from candidate');
    }
  }, 150_000);

  it('keeps serving at normal speed while Kafka is down, counts drops, and delivers the buffer when it is back', async () => {
    const timeIt = async (n: number, tag: string) => {
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        const res = await s.openai.chat.completions.create({ model: s.model, messages: ask(`${tag} ${i}`) });
        expect(res.choices[0]?.message.content).toContain('Answer from baseline');
      }
      return (performance.now() - started) / n;
    };
    await timeIt(20, 'warm-up');
    const upMs = await timeIt(50, 'up');
    await proxy.cut();
    const downMs = await timeIt(300, 'down'); // 2 outcomes + 1 pair each: far past the 200-event buffer
    const stats = publisher.stats();
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.buffered).toBeLessThanOrEqual(200 + 500);
    const metrics = await (await fetch(`${s.router.url}/metrics`)).text();
    const dropped = Number(/aviary_router_events_dropped_total (\d+)/.exec(metrics)?.[1]);
    expect(dropped).toBeGreaterThan(0);
    const ready = (await (await fetch(`${s.router.url}/readyz`)).json()) as {
      status: string;
      checks: { events: { status: string } };
    };
    expect(ready.checks.events.status).toBe('failing');
    process.stdout.write(
      `kafka down: ${downMs.toFixed(2)} ms/request vs ${upMs.toFixed(2)} ms with kafka up; ${stats.dropped} events dropped, ${stats.buffered} buffered\n`,
    );
    expect(downMs).toBeLessThan(Math.max(upMs * 3, upMs + 5));

    const before = s.outcomes.length;
    await proxy.restore();
    await waitFor(
      'the buffer to drain',
      () => publisher.stats().buffered === 0 && publisher.stats().healthy,
      30_000,
      200,
    );
    await waitFor('the buffered events to arrive', () => s.outcomes.length > before + 100, 30_000, 200);
  }, 120_000);
});
