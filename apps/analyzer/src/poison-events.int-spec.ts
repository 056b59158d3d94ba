import { randomUUID } from 'node:crypto';
import { TOPICS, type OutcomeEvent, type PairEvent } from '@aviary/contracts';
import { InProcessEventBus, KafkaEventPublisher, KafkaEventSubscriber } from '@aviary/kafka';
import { createPrismaClient, EvidenceStore, type PrismaHandle } from '@aviary/persistence';
import { createTestDatabase, testKafkaBrokers, type TestDatabase, outcomeEvent } from '@aviary/testing';
import { startAnalyzer, type RunningAnalyzer } from './analyzer';

const baselineId = randomUUID();
const candidateId = randomUUID();

const outcome = (rolloutId: string, over: Partial<OutcomeEvent> = {}): OutcomeEvent =>
  outcomeEvent({ versionId: candidateId, rolloutId, ...over });

function pairWithNul(rolloutId: string): PairEvent {
  const side = (versionId: string, output: string) => ({
    versionId,
    versionLabel: versionId === baselineId ? 'v1' : 'v2',
    status: 200,
    errorClass: null,
    output,
    refusal: false,
    empty: false,
    invalidJson: false,
    latencyMs: 100,
    completionTokens: 5,
  });
  return {
    schema: 'aviary.pair.v1',
    requestId: `avy-${randomUUID()}`,
    at: new Date().toISOString(),
    model: 'm',
    rolloutId,
    revision: 7,
    jsonRequested: false,
    prompt: [{ role: 'user', content: 'hello\u0000world' }],
    baseline: side(baselineId, 'an answer\u0000 with a NUL'),
    shadow: side(candidateId, 'another\u0000answer'),
  };
}

/** Valid by the contract, but the database cannot store it: a revision beyond PostgreSQL's integer. */
const poison = (rolloutId: string) => outcome(rolloutId, { revision: 3_000_000_000 });

async function waitUntil(
  fn: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('evidence that cannot be stored', () => {
  let db: TestDatabase;
  let handle: PrismaHandle;
  let store: EvidenceStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    handle = createPrismaClient({ url: db.url, poolMax: 3 });
    store = new EvidenceStore(handle.prisma);
  });
  afterAll(async () => {
    await handle?.close();
    await db?.drop();
  });

  const start = (subscriber: InProcessEventBus | KafkaEventSubscriber) =>
    startAnalyzer(
      {
        bucketSeconds: 60,
        dedupHours: 1,
        pairSamplesPerRollout: 5,
        http: null,
        attempts: 2,
        retryBaseMs: 20,
      },
      { prisma: handle.prisma, subscriber },
    );

  it('stores a shadow pair whose prompt and answers contain NUL, without the NUL', async () => {
    const bus = new InProcessEventBus();
    const analyzer = await start(bus);
    try {
      const rolloutId = randomUUID();
      bus.publish(TOPICS.pairs, rolloutId, pairWithNul(rolloutId));
      bus.publish(TOPICS.outcomes, rolloutId, outcome(rolloutId));
      await waitUntil(() => analyzer.stats().counted === 2, 'both events to be counted');
      const [sample] = await store.recentSamples(rolloutId, 5);
      expect(sample?.baselineOutput).toBe('an answer with a NUL');
      expect(JSON.stringify(sample?.prompt)).toContain('helloworld');
      expect(analyzer.stats()).toMatchObject({ failedBatches: 0, deadLettered: 0 });
    } finally {
      await analyzer.close();
    }
  });

  it('counts the rest of a batch and parks the event the database refuses', async () => {
    const bus = new InProcessEventBus();
    const analyzer = await start(bus);
    try {
      const rolloutId = randomUUID();
      bus.publish(TOPICS.outcomes, rolloutId, outcome(rolloutId));
      bus.publish(TOPICS.outcomes, rolloutId, poison(rolloutId));
      bus.publish(TOPICS.outcomes, rolloutId, outcome(rolloutId));
      await waitUntil(() => analyzer.stats().deadLettered === 1, 'the poison event to be parked');
      expect(analyzer.stats()).toMatchObject({ counted: 2, failedBatches: 0, lastError: null });
      expect((await store.armTotals(rolloutId, null))[0]?.requests).toBe(2);
      const parked = await handle.prisma.analysisDeadLetter.findMany();
      expect(parked).toHaveLength(1);
      expect(parked[0]).toMatchObject({ topic: TOPICS.outcomes });
      expect(parked[0]!.payload).toContain('3000000000');
      expect(parked[0]!.error).toMatch(/out of range|integer/i);
    } finally {
      await analyzer.close();
    }
  });

  it('moves a Kafka partition past a poison event: it is parked once, never redelivered', async () => {
    const brokers = testKafkaBrokers();
    const groupId = `poison-${randomUUID()}`;
    const rolloutId = randomUUID();
    const publisher = new KafkaEventPublisher({ brokers, clientId: 'poison-test', lingerMs: 5 });
    let analyzer: RunningAnalyzer | null = null;
    const before = await handle.prisma.analysisDeadLetter.count();
    try {
      analyzer = await start(new KafkaEventSubscriber({ brokers, clientId: 'poison-a', groupId }));
      publisher.publish(TOPICS.outcomes, rolloutId, outcome(rolloutId));
      publisher.publish(TOPICS.outcomes, rolloutId, poison(rolloutId));
      publisher.publish(TOPICS.outcomes, rolloutId, outcome(rolloutId));
      await waitUntil(
        async () =>
          (await store.armTotals(rolloutId, null))[0]?.requests === 2 && analyzer!.stats().deadLettered >= 1,
        'the good events to be counted and the poison parked',
      );
      await analyzer.close();
      analyzer = null;

      // A new member of the group resumes after the committed offsets: the poison is not read again.
      analyzer = await start(new KafkaEventSubscriber({ brokers, clientId: 'poison-b', groupId }));
      publisher.publish(TOPICS.outcomes, rolloutId, outcome(rolloutId));
      await waitUntil(
        async () => (await store.armTotals(rolloutId, null))[0]?.requests === 3,
        'the next event to be counted',
      );
      expect(analyzer.stats()).toMatchObject({ deadLettered: 0, failedBatches: 0 });
      expect(
        (await handle.prisma.analysisDeadLetter.findMany()).filter((l) => l.payload.includes(rolloutId)),
      ).toHaveLength(1);
      expect(await handle.prisma.analysisDeadLetter.count()).toBeGreaterThan(before);
    } finally {
      await analyzer?.close();
      await publisher.close();
    }
  }, 90_000);
});
