import { randomUUID } from 'node:crypto';
import { TOPICS } from '@aviary/contracts';
import { BEHAVIOURS, startDemoLlm, type DemoLlm } from '@aviary/demo-llm';
import { testKafkaBrokers, waitFor } from '@aviary/testing';
import { ensureTopics, KafkaEventPublisher, KafkaEventSubscriber } from '@aviary/kafka';
import { createPrismaClient, type PrismaHandle } from '@aviary/persistence';
import { startStack, type Stack } from '@aviary/router/testing';
import { startAnalyzer, type RunningAnalyzer } from '../src/analyzer';

const brokers = testKafkaBrokers;

interface RolloutView {
  phase: string;
  stepIndex: number;
  split: { candidateWeight: number };
}
interface EventView {
  at: string;
  type: string;
  automatic: boolean;
  message: string;
  evidence: Record<string, unknown>;
}

const SAME_AS_BASELINE = { ...BEHAVIOURS.fine, refusalRate: 0.03, latencyMs: 5, latencyJitterMs: 2 };

/**
 * Guardrails for a test that must decide in seconds: fewer samples per arm, ratings counted at once
 * (no feedback window), and tolerances wide enough that an identical candidate can be shown within
 * 1.5x of them at the step to 100% from a few thousand requests (a refusal rate of 50% against 3% is
 * still far past them).
 */
const FAST_GUARDRAILS = {
  refusalRate: { minSamples: 150, maxRelativeIncrease: 1 },
  errorRate: { minSamples: 150, maxRelativeIncrease: 1 },
  silentFailureRate: { minSamples: 150, maxRelativeIncrease: 1 },
  latencyP95: { minSamples: 150, maxRelativeIncrease: 1 },
  outputLengthDrop: { minSamples: 150 },
  thumbsDownRate: { minSamples: 30, maxRelativeIncrease: 1, feedbackWindowSeconds: 0 },
};

/**
 * Users sending chat requests through the router (the real openai SDK) at a steady pace, some of them
 * rating the answer: thumbs-down for a refusal, otherwise mostly up.
 */
function traffic(s: Stack, workers = 8) {
  let running = true;
  let sent = 0;
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) {
      const n = sent++;
      try {
        const { data, response } = await s.openai.chat.completions
          .create({
            model: s.model,
            messages: [{ role: 'user', content: `question ${n}: how do I reset my password?` }],
            user: `user-${w}-${n % 97}`,
          })
          .withResponse();
        if (n % 4 === 0) {
          const text = data.choices[0]?.message.content ?? '';
          const refused = /sorry|can't|cannot|unable/i.test(text);
          await s.post('/v1/feedback', {
            request_id: response.headers.get('x-aviary-request-id'),
            rating: refused || n % 20 === 0 ? 'down' : 'up',
          });
        }
      } catch {
        // An answer that failed is evidence too (the router recorded it); keep going.
      }
    }
  });
  return {
    sent: () => sent,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('automatic promotion and rollback from evidence through a real Kafka broker', () => {
  let s: Stack;
  let db: PrismaHandle;
  let analyzer: RunningAnalyzer;
  let judge: DemoLlm;

  beforeAll(async () => {
    await ensureTopics(brokers(), Object.values(TOPICS), 3);
    const run = randomUUID();
    s = await startStack(
      {},
      {
        events: new KafkaEventPublisher({
          brokers: brokers(),
          clientId: 'analyzer-e2e-router',
          lingerMs: 10,
        }),
        subscriber: new KafkaEventSubscriber({
          brokers: brokers(),
          clientId: 'analyzer-e2e-capture',
          groupId: `analyzer-e2e-capture-${run}`,
          maxWaitTimeMs: 200,
        }),
        controlPlaneEnv: { AVIARY_ANALYSIS: 'guardrails', AVIARY_TICK_INTERVAL_MS: '250' },
      },
    );
    s.baseline.setBehaviour(SAME_AS_BASELINE);
    s.candidate.setBehaviour(SAME_AS_BASELINE);
    db = createPrismaClient({ url: s.cp.databaseUrl, poolMax: 4 });
    judge = await startDemoLlm({ name: 'judge' });
    analyzer = await startAnalyzer(
      {
        bucketSeconds: 5,
        dedupHours: 1,
        pairSamplesPerRollout: 20,
        http: null,
        judge: {
          url: judge.url,
          model: 'judge',
          apiKey: null,
          sampleRate: 1,
          ratePerSecond: 100,
          maxPerRollout: 1000,
          timeoutMs: 5000,
          queueSize: 1000,
        },
      },
      {
        prisma: db.prisma,
        subscriber: new KafkaEventSubscriber({
          brokers: brokers(),
          clientId: 'analyzer-e2e',
          groupId: `aviary-analyzer-e2e-${run}`,
          maxWaitTimeMs: 200,
        }),
      },
    );
  }, 90_000);

  afterAll(async () => {
    await analyzer?.close();
    await judge?.close();
    await db?.close();
    await s?.close();
  });

  afterEach(async () => {
    // A test that failed halfway leaves its rollout active; the next one needs the model free.
    await s?.cp.api('POST', `/api/v1/models/${s.model}/rollback`, { reason: 'test cleanup' });
  });

  const rollout = (id: string) => s.cp.api<RolloutView>('GET', `/api/v1/rollouts/${id}`).then((r) => r.body);
  const events = (id: string) =>
    s.cp
      .api<{ items: EventView[] }>('GET', `/api/v1/rollouts/${id}/events?limit=200`)
      .then((r) => r.body.items);

  // Rolled back first: the identical candidate's test then rolls the same version out again and
  // makes it the stable one.
  it('rolls a candidate that starts refusing half its answers back at 20% by itself, and explains why', async () => {
    const load = traffic(s);
    try {
      const id = await s.rollout(
        [
          { type: 'setWeight', weight: 20, minDurationSeconds: 3600 },
          { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
        ],
        { guardrails: FAST_GUARDRAILS },
      );
      // Healthy evidence first, then the candidate turns bad.
      await waitFor(
        'some candidate traffic',
        async () => (await analysisOf(id)).arms.candidate.requests >= 50,
        60_000,
        250,
      );
      s.candidate.setBehaviour({ refusalRate: 0.5 });
      const turnedBadAt = Date.now();
      const rolledBack = await waitFor(
        'the automatic rollback',
        async () => ((await rollout(id)).phase === 'RolledBack' ? true : null),
        90_000,
        100,
      );
      expect(rolledBack).toBe(true);
      const decidedAt = Date.now();
      await waitFor(
        'the router to serve only the baseline',
        () => {
          for (let u = 0; u < 200; u++)
            if (s.router.flags.resolve(s.model, `probe-${u}`)?.role !== 'baseline') return false;
          return true;
        },
        10_000,
        20,
      );
      const baselineOnlyAt = Date.now();
      const log = await events(id);
      const decision = log.find((e) => e.type === 'AutoRolledBack');
      expect(decision).toBeDefined();
      expect(decision?.automatic).toBe(true);
      expect(decision?.message).toMatch(/refusal rate/);
      const refusal = (
        decision?.evidence['guardrails'] as { metric: string; verdict: string; candidate: number }[]
      ).find((g) => g.metric === 'refusalRate');
      expect(refusal?.verdict).toBe('Failed');
      expect(refusal?.candidate).toBeGreaterThan(0.1);
      // The figure issue 4 asks for. The decision counted N candidate outcomes; the N-th one the router
      // produced (read back from Kafka) is the first event that made the guardrail fail.
      const counted = (decision?.evidence['arms'] as { candidate: { requests: number } }).candidate.requests;
      await waitFor('the captured outcomes', () => candidateOutcomes(id).length >= counted, 10_000, 50);
      const decisive = candidateOutcomes(id)[counted - 1]!;
      const eventToDecision = Date.parse(decision!.at) - Date.parse(decisive.at);
      const decisionToRouter = baselineOnlyAt - Date.parse(decision!.at);
      expect(eventToDecision).toBeGreaterThanOrEqual(0);
      expect(eventToDecision + decisionToRouter).toBeLessThan(10_000);
      console.log(
        `auto rollback: candidate turned bad → RolledBack after ${decidedAt - turnedBadAt} ms of traffic; ` +
          `decisive event (candidate outcome #${counted}) → decision ${eventToDecision} ms ` +
          `(Kafka → analyzer → database → control-plane tick) → router serving only the baseline ` +
          `${decisionToRouter} ms later (flag publish + router poll); event → baseline-only ≈ ${eventToDecision + decisionToRouter} ms`,
      );
    } finally {
      await load.stop();
      s.candidate.setBehaviour(SAME_AS_BASELINE);
    }
  }, 180_000);

  it('rolls back in its first step, at the offline golden-set check, a candidate that refuses where the baseline answers', async () => {
    s.candidate.setBehaviour({ refusalRate: 0.6 });
    try {
      const goldenSet = Array.from({ length: 12 }, (_, i) =>
        JSON.stringify({
          id: `q${i}`,
          messages: [{ role: 'user', content: `golden question ${i}: how do I change my email?` }],
          mustContain: ['answer'],
          edgeCase: i < 2,
        }),
      ).join('\n');
      const bad = await s.cp.api('POST', '/api/v1/rollouts', {
        model: s.model,
        candidateVersion: 'v2',
        goldenSet: '{"id":"x"}\nnot json',
        allowRolledBackCandidate: true,
        reason: 'test',
      });
      expect(bad.status).toBe(400);
      expect(bad.body['errors']).toEqual([
        { field: 'goldenSet[1].messages', message: 'must be a non-empty array of {role, content} strings' },
        { field: 'goldenSet[2]', message: 'is not valid JSON' },
      ]);

      const id = await s.rollout(
        [
          { type: 'shadow', sampleRate: 1, minDurationSeconds: 3600 },
          { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
        ],
        { guardrails: FAST_GUARDRAILS, goldenSet },
      );
      await waitFor(
        'the golden-set rollback',
        async () => ((await rollout(id)).phase === 'RolledBack' ? true : null),
        30_000,
        100,
      );
      const decision = (await events(id)).find((e) => e.type === 'AutoRolledBack');
      expect(decision?.message).toMatch(/golden set: candidate passed \d+\/12, baseline \d+\/12/);
      const report = await analysisOf(id);
      expect(report).toMatchObject({ golden: { status: 'done', result: { verdict: 'Failed', total: 12 } } });
    } finally {
      s.candidate.setBehaviour(SAME_AS_BASELINE);
    }
  }, 60_000);

  it('promotes an identical candidate through shadow and canary to 100% on its own', async () => {
    const load = traffic(s);
    try {
      const steps = [
        { type: 'shadow', sampleRate: 1, minDurationSeconds: 2 },
        { type: 'setWeight', weight: 50, minDurationSeconds: 2 },
        { type: 'setWeight', weight: 100, minDurationSeconds: 2 },
      ];
      // At 100% a fifth of the users stay on the baseline (the holdback), so the step still has a
      // concurrent baseline to compare latency with within seconds.
      const id = await s.rollout(steps, {
        plan: { steps, holdbackPercent: 20 },
        guardrails: FAST_GUARDRAILS,
      });
      const done = await waitFor(
        'the rollout to complete on its own',
        async () => {
          const r = await rollout(id);
          return r.phase === 'Healthy' || r.phase === 'RolledBack' ? r : null;
        },
        150_000,
        250,
      ).catch(async (err: Error) => {
        const a = await analysisOf(id);
        throw new Error(`${err.message}; at step ${a.stepIndex}: ${a.summary}`);
      });
      const log = await events(id);
      expect(done.phase).toBe('Healthy');
      const automatic = log.filter((e) => e.automatic).map((e) => e.type);
      expect(automatic).toEqual(['StepAdvanced', 'StepAdvanced', 'Completed']);
      // Each automatic step carries the guardrail evidence it was decided on.
      for (const e of log.filter((x) => x.automatic)) {
        expect(e.evidence['analysis']).toBe('guardrails');
        expect(e.evidence['verdict']).toBe('Successful');
        const guardrails = e.evidence['guardrails'] as { metric: string; verdict: string }[];
        // Every guardrail passed, but the time to first token: nothing here streams (no data, ignored).
        expect(
          guardrails.filter((g) => g.verdict !== 'Successful').map((g) => [g.metric, g.verdict]),
        ).toEqual([['ttftP95', 'NoData']]);
      }
      const shadowStep = log.find((x) => x.automatic && x.type === 'StepAdvanced');
      expect(shadowStep?.evidence['candidateRole']).toBe('shadow');
      expect((shadowStep?.evidence['shadow'] as { pairs: number }).pairs).toBeGreaterThan(0);
      // The LLM judge saw the shadow's answers too, and found them as good (the same demo model).
      expect(shadowStep?.evidence['judge']).toMatchObject({ verdict: 'Successful' });
      // The step to 100% (50%, the gate) passed only with every rate shown below 1.5x its tolerance,
      // pooled over the rollout's steps with the variance between user clusters.
      const gate = log.filter((x) => x.automatic && x.type === 'StepAdvanced')[1];
      expect(gate?.evidence['requirement']).toBe('harmBound');
      const rates = (gate?.evidence['guardrails'] as { metric: string; harm?: { shown: boolean } }[]).filter(
        (g) => ['refusalRate', 'errorRate', 'silentFailureRate', 'thumbsDownRate'].includes(g.metric),
      );
      expect(rates.map((g) => [g.metric, g.harm?.shown])).toEqual(rates.map((g) => [g.metric, true]));
    } finally {
      await load.stop();
    }
  }, 240_000);

  function candidateOutcomes(rolloutId: string) {
    return s.outcomes
      .filter((o) => o.rolloutId === rolloutId && o.role === 'candidate' && o.errorClass === null)
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }

  async function analysisOf(id: string) {
    const r = await s.cp.api<{
      stepIndex: number;
      summary: string;
      arms: { candidate: { requests: number } };
    }>('GET', `/api/v1/rollouts/${id}/analysis`);
    if (r.status !== 200) throw new Error(`analysis: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
});
