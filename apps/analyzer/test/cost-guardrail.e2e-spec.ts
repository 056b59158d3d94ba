import { randomUUID } from 'node:crypto';
import { TOPICS } from '@aviary/contracts';
import { BEHAVIOURS } from '@aviary/demo-llm';
import { testKafkaBrokers, waitFor } from '@aviary/testing';
import { ensureTopics, KafkaEventPublisher, KafkaEventSubscriber } from '@aviary/kafka';
import { createPrismaClient, type PrismaHandle } from '@aviary/persistence';
import { startStack, type Stack } from '@aviary/router/testing';
import { startAnalyzer, type RunningAnalyzer } from '../src/analyzer';

const brokers = testKafkaBrokers;
const SAME = { ...BEHAVIOURS.fine, refusalRate: 0.03, latencyMs: 5, latencyJitterMs: 2 };

/** Every quality guardrail wide and quick; the cost guardrail on at +20 %. */
const GUARDRAILS = {
  refusalRate: { minSamples: 100, maxRelativeIncrease: 1 },
  errorRate: { minSamples: 100, maxRelativeIncrease: 1 },
  silentFailureRate: { minSamples: 100, maxRelativeIncrease: 1 },
  latencyP95: { minSamples: 100, maxRelativeIncrease: 1 },
  outputLengthDrop: { minSamples: 100 },
  thumbsDownRate: { enabled: false },
  costPerRequest: { enabled: true, maxRelativeIncrease: 0.2, minSamples: 100 },
};

interface Analysis {
  cost: {
    baseline: { perRequestUsd: number | null; perAnswerUsd: number | null; totalUsd: number };
    candidate: { perRequestUsd: number | null; perAnswerUsd: number | null; totalUsd: number };
    relativeDifference: { perRequest: number | null; perAnswer: number | null };
    sentence: string;
  };
}

/** Users asking through the router with the real openai SDK until stopped. */
function traffic(s: Stack, workers = 6) {
  let running = true;
  let sent = 0;
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) {
      const n = sent++;
      await s.openai.chat.completions
        .create({
          model: s.model,
          messages: [{ role: 'user', content: `question ${n}: how do I reset my password?` }],
          user: `user-${w}-${n % 97}`,
        })
        .catch(() => null);
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('cost guardrail through a real Kafka broker', () => {
  let s: Stack;
  let db: PrismaHandle;
  let analyzer: RunningAnalyzer;

  beforeAll(async () => {
    await ensureTopics(brokers(), Object.values(TOPICS), 3);
    const run = randomUUID();
    s = await startStack(
      {},
      {
        events: new KafkaEventPublisher({ brokers: brokers(), clientId: 'cost-e2e-router', lingerMs: 10 }),
        subscriber: new KafkaEventSubscriber({
          brokers: brokers(),
          clientId: 'cost-e2e-capture',
          groupId: `cost-e2e-capture-${run}`,
          maxWaitTimeMs: 200,
        }),
        controlPlaneEnv: { AVIARY_ANALYSIS: 'guardrails', AVIARY_TICK_INTERVAL_MS: '250' },
        // Same model behaviour, the candidate's output tokens twice the price.
        baselineVersion: { prices: { inputPerMillionTokens: 0.5, outputPerMillionTokens: 1.5 } },
        candidateVersion: { prices: { inputPerMillionTokens: 0.5, outputPerMillionTokens: 3 } },
      },
    );
    s.baseline.setBehaviour(SAME);
    s.candidate.setBehaviour(SAME);
    db = createPrismaClient({ url: s.cp.databaseUrl, poolMax: 4 });
    analyzer = await startAnalyzer(
      { bucketSeconds: 5, dedupHours: 1, pairSamplesPerRollout: 20, http: null, judge: null },
      {
        prisma: db.prisma,
        subscriber: new KafkaEventSubscriber({
          brokers: brokers(),
          clientId: 'cost-e2e',
          groupId: `aviary-cost-e2e-${run}`,
          maxWaitTimeMs: 200,
        }),
      },
    );
  }, 90_000);

  afterAll(async () => {
    await analyzer?.close();
    await db?.close();
    await s?.close();
  });

  it('rolls back a candidate that answers the same but at a dearer output price, and shows the cost per version', async () => {
    const load = traffic(s);
    let id = '';
    try {
      id = await s.rollout(
        [
          { type: 'setWeight', weight: 50, minDurationSeconds: 3600 },
          { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
        ],
        { guardrails: GUARDRAILS },
      );
      await waitFor(
        'the automatic rollback',
        async () =>
          (await s.cp.api<{ phase: string }>('GET', `/api/v1/rollouts/${id}`)).body.phase === 'RolledBack',
        120_000,
        200,
      );
    } finally {
      await load.stop();
    }
    const events = await s.cp.api<{
      items: { type: string; message: string; evidence: Record<string, unknown> }[];
    }>('GET', `/api/v1/rollouts/${id}/events?limit=200`);
    const decision = events.body.items.find((e) => e.type === 'AutoRolledBack');
    expect(decision?.message).toMatch(/cost per request/);
    const guardrails = decision?.evidence['guardrails'] as { metric: string; verdict: string }[];
    expect(guardrails.filter((g) => g.verdict === 'Failed').map((g) => g.metric)).toEqual(['costPerRequest']);

    // The router priced every answer at its version's prices, the analyzer summed them.
    const candidateOutcome = s.outcomes.find(
      (o) => o.rolloutId === id && o.role === 'candidate' && !o.errorClass,
    );
    expect(candidateOutcome?.costUsd).toBeCloseTo(
      (candidateOutcome!.promptTokens! * 0.5 + candidateOutcome!.completionTokens! * 3) / 1e6,
      12,
    );
    const a = (await s.cp.api<Analysis>('GET', `/api/v1/rollouts/${id}/analysis`)).body;
    expect(a.cost.baseline.totalUsd).toBeGreaterThan(0);
    expect(a.cost.candidate.perRequestUsd!).toBeGreaterThan(a.cost.baseline.perRequestUsd!);
    expect(a.cost.relativeDifference.perRequest!).toBeGreaterThan(0.3);
    // Output price x2 is at most +100 % at equal answer lengths; lengths vary by chance between the
    // arms (seen: +102 %), so the bound leaves room for that but not for cost counted twice (~+200 %).
    expect(a.cost.relativeDifference.perRequest!).toBeLessThan(1.5);
    expect(a.cost.sentence).toMatch(/^cost per answer: \$0\.\d+ vs \$0\.\d+ \(\+\d+ %\)$/);
    console.log(`cost guardrail e2e: ${a.cost.sentence}; decision: ${decision?.message}`);
  }, 180_000);
});
