import { randomUUID } from 'node:crypto';
import { TOPICS, type FeedbackEvent, type OutcomeEvent, type PairEvent } from '@aviary/contracts';
import { latencyBucketIndex, type ReceivedEvent } from '@aviary/domain';
import { InProcessEventBus } from '@aviary/kafka';
import { createPrismaClient, EvidenceStore, type PrismaHandle } from '@aviary/persistence';
import { createTestDatabase, startTcpProxy, type TestDatabase, outcomeEvent } from '@aviary/testing';
import { startAnalyzer } from '../analyzer';
import { EvidenceIngestor } from './evidence-ingestor';

const rolloutId = randomUUID();
const baselineId = randomUUID();
const candidateId = randomUUID();

const outcome = (over: Partial<OutcomeEvent> = {}): OutcomeEvent =>
  outcomeEvent({ at: '2026-11-30T10:00:03.000Z', versionId: candidateId, rolloutId, ...over });

const ev = (topic: string, value: unknown): ReceivedEvent => ({ topic, key: rolloutId, value });

describe(EvidenceIngestor.name, () => {
  let db: TestDatabase;
  let handle: PrismaHandle;
  let store: EvidenceStore;
  let ingestor: EvidenceIngestor;

  beforeAll(async () => {
    db = await createTestDatabase();
    handle = createPrismaClient({ url: db.url, poolMax: 3 });
    store = new EvidenceStore(handle.prisma);
    ingestor = new EvidenceIngestor(store, { bucketSeconds: 60, samplesPerBatch: 2 });
  });
  afterAll(async () => {
    await handle?.close();
    await db?.drop();
  });

  it('adds outcomes to per-arm counters once, however often they are delivered', async () => {
    const batch = [
      ev(TOPICS.outcomes, outcome({ refusal: true, latencyMs: 200 })),
      ev(TOPICS.outcomes, outcome({ empty: true })),
      ev(TOPICS.outcomes, outcome({ errorClass: 'timeout', status: 504, completionTokens: null })),
      ev(TOPICS.outcomes, outcome({ role: 'baseline', versionId: baselineId, completionTokens: 30 })),
    ];
    const first = await ingestor.ingest(batch);
    expect(first).toMatchObject({ received: 4, counted: 4, duplicates: 0 });
    // Redelivered (at least once), and the same event twice in one batch.
    const again = await ingestor.ingest([...batch, batch[0]!]);
    expect(again).toMatchObject({ received: 5, counted: 0, duplicates: 5 });

    const totals = await store.armTotals(rolloutId, 7);
    const candidate = totals.find((t) => t.role === 'candidate')!;
    expect(candidate).toMatchObject({
      requests: 3,
      errors: 1,
      refusals: 1,
      silentFailures: 1,
      tokensN: 2,
      tokensSum: 40,
    });
    expect(candidate.latencyCounts[latencyBucketIndex(200)]).toBe(1);
    expect(candidate.latencyCounts[latencyBucketIndex(120)]).toBe(1);
    expect(totals.find((t) => t.role === 'baseline')).toMatchObject({ requests: 1, tokensSum: 30 });
    // Earlier revisions are another step's evidence.
    expect(await store.armTotals(rolloutId, 8)).toEqual([]);
  });

  it('sums latency histograms element by element across batches and keeps time buckets for charts', async () => {
    const r = randomUUID();
    await ingestor.ingest([ev(TOPICS.outcomes, outcome({ rolloutId: r, latencyMs: 5 }))]);
    await ingestor.ingest([
      ev(TOPICS.outcomes, outcome({ rolloutId: r, latencyMs: 5, at: '2026-11-30T10:01:30.000Z' })),
      ev(TOPICS.outcomes, outcome({ rolloutId: r, latencyMs: 5000 })),
    ]);
    const [total] = await store.armTotals(r, null);
    expect(total!.latencyCounts[latencyBucketIndex(5)]).toBe(2);
    expect(total!.latencyCounts[latencyBucketIndex(5000)]).toBe(1);
    const series = await store.armSeries(r, new Date('2026-11-30T00:00:00Z'));
    expect(series.map((s) => [s.bucketStart.toISOString(), s.requests])).toEqual([
      ['2026-11-30T10:00:00.000Z', 2],
      ['2026-11-30T10:01:00.000Z', 1],
    ]);
  });

  it('keeps the time to first token of streamed answers only, and counts a broken tool call as a silent failure', async () => {
    const r = randomUUID();
    await ingestor.ingest([
      ev(TOPICS.outcomes, outcome({ rolloutId: r, stream: true, ttftMs: 300, latencyMs: 2000 })),
      ev(TOPICS.outcomes, outcome({ rolloutId: r, stream: true, ttftMs: 300, latencyMs: 2500 })),
      // Not streamed: its ttftMs is the first byte of a whole answer, not a first token.
      ev(TOPICS.outcomes, outcome({ rolloutId: r, stream: false, ttftMs: 5 })),
      ev(TOPICS.outcomes, outcome({ rolloutId: r, toolCalls: 1, toolCallErrors: 1 })),
    ]);
    const [total] = await store.armTotals(r, null);
    expect(total!.ttftCounts[latencyBucketIndex(300)]).toBe(2);
    expect(total!.ttftCounts.reduce((a, b) => a + b, 0)).toBe(2);
    expect(total).toMatchObject({ requests: 4, silentFailures: 1 });
  });

  it('attributes late feedback to the version, role and revision that served the request', async () => {
    const r = randomUUID();
    const feedback = (rating: 'up' | 'down', revision: number): FeedbackEvent => ({
      schema: 'aviary.feedback.v1',
      requestId: `avy-${randomUUID()}`,
      at: '2026-11-30T12:00:00.000Z',
      model: 'm',
      versionId: candidateId,
      role: 'candidate',
      rolloutId: r,
      revision,
      rating,
      comment: null,
    });
    await ingestor.ingest([
      ev(TOPICS.feedback, feedback('down', 3)),
      ev(TOPICS.feedback, feedback('up', 3)),
      ev(TOPICS.feedback, feedback('down', 4)),
    ]);
    expect((await store.armTotals(r, 4))[0]).toMatchObject({ feedback: 1, thumbsDown: 1, requests: 0 });
    expect((await store.armTotals(r, 3))[0]).toMatchObject({ feedback: 3, thumbsDown: 2 });
  });

  it('counts every outcome and rating in its user cluster too (the stickiness bucket; unsticky by request id)', async () => {
    const r = randomUUID();
    const sticky = outcome({ rolloutId: r, stickinessBucket: 42, refusal: true });
    const unsticky = outcome({ rolloutId: r, stickinessBucket: null, requestId: 'avy-unsticky-1' });
    const rating = (over: Partial<FeedbackEvent>): FeedbackEvent => ({
      schema: 'aviary.feedback.v1',
      requestId: sticky.requestId,
      at: '2026-11-30T12:00:00.000Z',
      model: 'm',
      versionId: candidateId,
      role: 'candidate',
      rolloutId: r,
      revision: 7,
      rating: 'down',
      comment: null,
      ...over,
    });
    await ingestor.ingest([
      ev(TOPICS.outcomes, sticky),
      ev(
        TOPICS.outcomes,
        outcome({ rolloutId: r, stickinessBucket: 42, errorClass: 'timeout', status: 504 }),
      ),
      ev(TOPICS.outcomes, unsticky),
      ev(TOPICS.feedback, rating({ stickinessBucket: 42 })),
      // A rating from an older router (no bucket in its request id): clustered by its request id.
      ev(TOPICS.feedback, rating({ requestId: 'avy-old-rating', rating: 'up' })),
    ]);
    const clusters = await store.clusterTotals(r, 7);
    const byCluster = new Map(clusters.map((c) => [c.cluster, c]));
    expect(byCluster.get(42)).toMatchObject({
      revision: 7,
      role: 'candidate',
      versionId: candidateId,
      requests: 2,
      errors: 1,
      refusals: 1,
      tokensN: 1,
      feedback: 1,
      thumbsDown: 1,
    });
    const others = clusters.filter((c) => c.cluster !== 42);
    expect(others.reduce((n, c) => n + c.requests, 0)).toBe(1);
    expect(others.reduce((n, c) => n + c.feedback, 0)).toBe(1);
    for (const c of clusters) expect(c.cluster).toBeGreaterThanOrEqual(0);
    for (const c of clusters) expect(c.cluster).toBeLessThan(100);
    // The cluster totals add up to the arm's.
    const [arm] = await store.armTotals(r, 7);
    expect(clusters.reduce((n, c) => n + c.requests, 0)).toBe(arm!.requests);
    expect(clusters.reduce((n, c) => n + c.thumbsDown, 0)).toBe(arm!.thumbsDown);
  });

  it('counts a rating for the minute its answer was served, so a feedback window can leave young answers out', async () => {
    const r = randomUUID();
    const rating = (servedAt: string | undefined, rating: 'up' | 'down'): FeedbackEvent => ({
      schema: 'aviary.feedback.v1',
      requestId: `avy-${randomUUID()}`,
      at: '2026-11-30T18:00:00.000Z',
      model: 'm',
      versionId: candidateId,
      role: 'candidate',
      rolloutId: r,
      revision: 7,
      rating,
      comment: null,
      ...(servedAt ? { servedAt } : {}),
    });
    await ingestor.ingest([
      ev(TOPICS.feedback, rating('2026-11-30T10:00:30.000Z', 'up')),
      ev(TOPICS.feedback, rating('2026-11-30T10:00:59.000Z', 'down')),
      ev(TOPICS.feedback, rating('2026-11-30T17:30:00.000Z', 'down')),
      // Without servedAt (an older router): the time it was given.
      ev(TOPICS.feedback, rating(undefined, 'down')),
    ]);
    // The chart buckets are the answer's time too.
    const series = await store.armSeries(r, new Date('2026-11-30T00:00:00Z'));
    expect(series.map((x) => [x.bucketStart.toISOString(), x.feedback, x.thumbsDown])).toEqual([
      ['2026-11-30T10:00:00.000Z', 2, 1],
      ['2026-11-30T17:30:00.000Z', 1, 1],
      ['2026-11-30T18:00:00.000Z', 1, 1],
    ]);
    // Answers served in the last hour before 18:00 (window 1 h): two ratings, both thumbs-down.
    expect(await store.recentFeedback(r, 7, new Date('2026-11-30T17:00:00.000Z'))).toEqual([
      { revision: 7, versionId: candidateId, role: 'candidate', feedback: 2, thumbsDown: 2 },
    ]);
    expect(await store.recentFeedback(r, 8, new Date('2026-11-30T17:00:00.000Z'))).toEqual([]);
    expect(await store.pruneFeedbackMinutes(new Date('2026-11-30T12:00:00.000Z'))).toBe(1);
    expect(await store.recentFeedback(r, 7, new Date('2026-11-30T00:00:00.000Z'))).toEqual([
      { revision: 7, versionId: candidateId, role: 'candidate', feedback: 2, thumbsDown: 2 },
    ]);
  });

  it('compares shadow pairs and keeps a few examples', async () => {
    const r = randomUUID();
    const side = (output: string | null, refusal = false) => ({
      versionId: output?.startsWith('B') ? baselineId : candidateId,
      versionLabel: 'v',
      status: output === null ? 502 : 200,
      errorClass: output === null ? ('connect' as const) : null,
      output,
      refusal,
      empty: false,
      invalidJson: false,
      latencyMs: 10,
      completionTokens: 5,
    });
    const pair = (baseline: string, shadow: string | null, refusal = false): PairEvent => ({
      schema: 'aviary.pair.v1',
      requestId: `avy-${randomUUID()}`,
      at: '2026-11-30T10:00:00.000Z',
      model: 'm',
      rolloutId: r,
      revision: 1,
      jsonRequested: false,
      prompt: [{ role: 'user', content: 'hi' }],
      baseline: { ...side(baseline), versionId: baselineId },
      shadow: { ...side(shadow, refusal), versionId: candidateId },
    });
    await ingestor.ingest([
      ev(TOPICS.pairs, pair('B the answer is 42', 'B the answer is 42')),
      ev(TOPICS.pairs, pair('B the answer is 42', "I'm sorry, I can't help", true)),
      ev(TOPICS.pairs, pair('B the answer is 42', null)),
    ]);
    expect(await store.pairTotals(r, 1)).toMatchObject({
      pairs: 3,
      comparable: 2,
      exactMatches: 1,
      shadowOnlyRefusals: 1,
      shadowErrors: 1,
    });
    const samples = await store.recentSamples(r, 10);
    expect(samples).toHaveLength(2); // samplesPerBatch
    expect(samples[0]?.baselineOutput).toBe('B the answer is 42');
  });

  it('never counts forced or cohort-routed outcomes as evidence: they are not a random sample', async () => {
    const revision = 41;
    const r = await ingestor.ingest([
      ev(TOPICS.outcomes, outcome({ revision, forced: true, errorClass: 'upstream_5xx', status: 500 })),
      ev(TOPICS.outcomes, outcome({ revision, cohort: true, refusal: true })),
      ev(TOPICS.outcomes, outcome({ revision, cohort: false, forced: false })),
    ]);

    expect(r).toEqual({ received: 3, invalid: 0, ignored: 2, duplicates: 0, counted: 1 });
    const totals = await store.armTotals(rolloutId, revision);
    expect(totals).toEqual([
      expect.objectContaining({ role: 'candidate', requests: 1, errors: 0, refusals: 0 }),
    ]);
  });

  it('skips events that are not valid Aviary evidence (and outside any rollout) without failing the batch', async () => {
    const r = await ingestor.ingest([
      ev(TOPICS.outcomes, { schema: 'aviary.outcome.v1', requestId: 'x' }),
      ev(TOPICS.outcomes, outcome({ rolloutId: 'not-a-uuid' })),
      ev('some.other.topic', {}),
      ev(TOPICS.outcomes, outcome({ rolloutId: null })),
      ev(TOPICS.outcomes, outcome({ errorClass: 'client_aborted', status: 499 })),
      ev(TOPICS.outcomes, outcome()),
    ]);
    expect(r).toEqual({ received: 6, invalid: 3, ignored: 2, duplicates: 0, counted: 1 });
  });
});

describe('the analyzer when its database goes away', () => {
  it('retries the batch and counts it once when the database is back', async () => {
    const db = await createTestDatabase();
    const url = new URL(db.url);
    const proxy = await startTcpProxy(Number(url.port), url.hostname);
    url.host = `127.0.0.1:${proxy.port}`;
    const handle = createPrismaClient({ url: url.toString(), poolMax: 2, connectionTimeoutMs: 500 });
    const bus = new InProcessEventBus();
    const analyzer = await startAnalyzer(
      {
        bucketSeconds: 60,
        dedupHours: 1,
        pairSamplesPerRollout: 5,
        http: null,
        attempts: 100,
        retryBaseMs: 50,
      },
      { prisma: handle.prisma, subscriber: bus },
    );
    try {
      const r = randomUUID();
      await proxy.cut();
      for (let i = 0; i < 10; i++) bus.publish(TOPICS.outcomes, r, outcome({ rolloutId: r }));
      await waitUntil(() => analyzer.stats().lastError !== null, 'the write to fail');
      expect(analyzer.stats().counted).toBe(0);
      await proxy.restore();
      await waitUntil(() => analyzer.stats().counted === 10, 'the batch to be written');
      expect(analyzer.stats()).toMatchObject({ lastError: null, failedBatches: 0, counted: 10 });
      const direct = createPrismaClient({ url: db.url, poolMax: 1 });
      try {
        expect((await new EvidenceStore(direct.prisma).armTotals(r, null))[0]?.requests).toBe(10);
      } finally {
        await direct.close();
      }
    } finally {
      await analyzer.close();
      await handle.close();
      await proxy.close();
      await db.drop();
    }
  }, 60_000);
});

async function waitUntil(fn: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
