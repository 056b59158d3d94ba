import { randomUUID } from 'node:crypto';
import { REFUSALS, startDemoLlm, type DemoLlm } from '@aviary/demo-llm';
import { createPrismaClient, EvidenceStore, type PrismaHandle } from '@aviary/persistence';
import { createTestDatabase, type TestDatabase } from '@aviary/testing';
import { JudgeWorker, type JudgeJob, type JudgeSettings } from './judge-worker';

const settings = (url: string, over: Partial<JudgeSettings> = {}): JudgeSettings => ({
  url,
  model: 'judge',
  apiKey: null,
  sampleRate: 1,
  ratePerSecond: 200,
  maxPerRollout: 100,
  timeoutMs: 2_000,
  queueSize: 100,
  ...over,
});

const job = (rolloutId: string, shadow: string): JudgeJob => ({
  rolloutId,
  revision: 1,
  requestId: `avy-${randomUUID()}`,
  bucketStart: new Date('2026-11-30T10:00:00Z'),
  prompt: [{ role: 'user', content: 'How do I reset my password?' }],
  baseline: 'Open settings, then choose reset.',
  shadow,
});

async function until(fn: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe(JudgeWorker.name, () => {
  let db: TestDatabase;
  let handle: PrismaHandle;
  let store: EvidenceStore;
  let judge: DemoLlm;

  beforeAll(async () => {
    db = await createTestDatabase();
    handle = createPrismaClient({ url: db.url, poolMax: 2 });
    store = new EvidenceStore(handle.prisma);
    judge = await startDemoLlm({ name: 'judge' });
  });
  afterAll(async () => {
    await judge?.close();
    await handle?.close();
    await db?.drop();
  });

  it('records the judge’s verdict from the shadow’s side, whichever position the shadow was shown in', async () => {
    const r = randomUUID();
    const worker = new JudgeWorker(settings(judge.url), store);
    try {
      for (let i = 0; i < 6; i++) worker.offer(job(r, REFUSALS[0]!)); // refuses: loses
      for (let i = 0; i < 4; i++) worker.offer(job(r, 'Go to settings and pick reset.')); // tie
      await until(() => worker.stats().judged === 10, 'ten verdicts');
      expect(await store.pairTotals(r, null)).toMatchObject({
        judgeLosses: 6,
        judgeTies: 4,
        judgeWins: 0,
        judgeErrors: 0,
      });
    } finally {
      await worker.close();
    }
  });

  it('stops at the per-rollout budget, counting what it skipped', async () => {
    const r = randomUUID();
    const worker = new JudgeWorker(settings(judge.url, { maxPerRollout: 3 }), store);
    try {
      for (let i = 0; i < 8; i++) worker.offer(job(r, 'fine'));
      await until(() => worker.stats().judged + worker.stats().skippedBudget === 8, 'all offers handled');
      expect(worker.stats()).toMatchObject({ judged: 3, skippedBudget: 5 });
      expect(await store.judgeCalls(r)).toBe(3);
    } finally {
      await worker.close();
    }
  });

  it('counts a judge that is down as errors and keeps going', async () => {
    const r = randomUUID();
    const worker = new JudgeWorker(settings('http://127.0.0.1:9/v1', { timeoutMs: 500 }), store);
    try {
      worker.offer(job(r, 'fine'));
      worker.offer(job(r, 'fine'));
      await until(() => worker.stats().errors === 2, 'two failed calls');
      expect(await store.pairTotals(r, null)).toMatchObject({ judgeErrors: 2, judgeWins: 0, judgeTies: 0 });
    } finally {
      await worker.close();
    }
  });

  it('samples the pairs it is offered and sheds what does not fit its queue', async () => {
    const r = randomUUID();
    let n = 0;
    const worker = new JudgeWorker(
      settings(judge.url, { sampleRate: 0.5, queueSize: 2, ratePerSecond: 1 }),
      store,
      () => undefined,
      () => (n++ % 2 === 0 ? 0.1 : 0.9), // every other pair is sampled
    );
    try {
      for (let i = 0; i < 10; i++) worker.offer(job(r, 'fine'));
      expect(worker.stats().offered).toBeGreaterThanOrEqual(3);
      expect(worker.stats().skippedQueueFull).toBeGreaterThan(0);
    } finally {
      await worker.close();
    }
  });
});
