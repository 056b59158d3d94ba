import { randomUUID } from 'node:crypto';
import { emptyArmCounters, EvidenceStore, FEEDBACK_MINUTE_MS, type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../src/database/database.tokens';
import { RolloutScheduler } from '../src/rollouts/rollout.scheduler';
import { seedModel, startTestControlPlane, type TestControlPlane } from './harness';

// GET /analysis over evidence written through the analyzer's store, against a real control plane
// and PostgreSQL: which revisions a step pools, the variance between user clusters, the feedback
// window, a retry starting afresh, and a 100% step without a concurrent baseline.

interface Guardrail {
  metric: string;
  verdict: string;
  baseline: number | null;
  candidate: number | null;
  relativeChange: number | null;
  requirement?: string;
  plain: string;
  evidence?: { window: string; steps: number; clusters: number; designEffect: number | null };
  harm?: { limit: number; shown: boolean };
  feedbackWindow?: { seconds: number; immature: { baseline: number; candidate: number } };
}
interface Analysis {
  stepIndex: number;
  requirement: string;
  attemptFromRevision: number | null;
  baselineSource: string;
  holdbackPercent: number;
  arms: { baseline: { requests: number }; candidate: { requests: number } };
  guardrails: Guardrail[];
  verdict: string;
  secondsToDecide: number | null;
}

const HOUR = 3600;
const plan = (holdbackPercent?: number) => ({
  steps: [
    { type: 'setWeight', weight: 5, minDurationSeconds: 3 * HOUR },
    { type: 'setWeight', weight: 50, minDurationSeconds: 3 * HOUR },
    { type: 'setWeight', weight: 100, minDurationSeconds: 3 * HOUR },
  ],
  ...(holdbackPercent === undefined ? {} : { holdbackPercent }),
});
/** Only refusals and ratings: the other guardrails would hold for want of latency and token data. */
const GUARDRAILS = {
  errorRate: { enabled: false },
  silentFailureRate: { enabled: false },
  latencyP95: { enabled: false },
  outputLengthDrop: { enabled: false },
  thumbsDownRate: { minSamples: 50, feedbackWindowSeconds: 2 * HOUR },
};

jest.setTimeout(30_000);

let t: TestControlPlane;
let prisma: PrismaClient;
let store: EvidenceStore;

beforeAll(async () => {
  // Ticks far apart: the test moves the rollouts itself.
  t = await startTestControlPlane({ AVIARY_TICK_INTERVAL_MS: '600000' });
  prisma = t.cp.app.get<PrismaClient>(PRISMA);
  store = new EvidenceStore(prisma);
}, 60_000);

afterAll(async () => {
  await t?.close();
});

async function newRollout(holdbackPercent?: number) {
  const m = await seedModel(t);
  const created = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
    model: m.name,
    candidateVersion: 'v2-int8',
    plan: plan(holdbackPercent),
    guardrails: GUARDRAILS,
  });
  expect(created.status).toBe(201);
  const id = created.body.id;
  expect((await t.api('POST', `/api/v1/rollouts/${id}/start`)).status).toBe(200);
  return { ...m, id };
}

async function revisionOf(id: string): Promise<number> {
  const r = await prisma.rollout.findUniqueOrThrow({ where: { id }, select: { stepRevision: true } });
  return r.stepRevision ?? -1;
}

/**
 * One arm's evidence in the rollout's current revision: `requests` with `refusals` and ratings,
 * spread evenly over the 100 user clusters; with `heavy`, every refusal and thumbs-down comes from
 * one cluster (one heavy user): cluster 0 in the candidate, 1 in the baseline (different users).
 */
async function seed(
  rolloutId: string,
  versionId: string,
  role: string,
  a: { requests: number; refusals: number; ratings?: number; downs?: number; heavy?: boolean },
) {
  const revision = await revisionOf(rolloutId);
  const counters = { ...emptyArmCounters(), requests: a.requests, refusals: a.refusals };
  counters.feedback = a.ratings ?? 0;
  counters.thumbsDown = a.downs ?? 0;
  // Whole numbers per cluster: the first `total % 100` clusters get one more.
  const heavyCluster = role === 'baseline' ? 1 : 0;
  const share = (total: number, g: number) => Math.floor(total / 100) + (g < total % 100 ? 1 : 0);
  const clusters = Array.from({ length: 100 }, (_, g) => ({
    rolloutId,
    revision,
    versionId,
    role,
    cluster: g,
    requests: share(a.requests, g),
    errors: 0,
    refusals: a.heavy ? (g === heavyCluster ? a.refusals : 0) : share(a.refusals, g),
    silentFailures: 0,
    feedback: share(a.ratings ?? 0, g),
    thumbsDown: a.heavy ? (g === heavyCluster ? (a.downs ?? 0) : 0) : share(a.downs ?? 0, g),
    tokensN: 0,
    tokensSum: 0,
    costN: 0,
    costSum: 0,
  }));
  await store.applyOnce([{ kind: 'outcome', requestId: randomUUID(), role }], () => ({
    arms: [{ ...counters, rolloutId, revision, versionId, role, bucketStart: new Date() }],
    pairs: [],
    samples: [],
    clusters,
  }));
}

async function analysis(id: string): Promise<Analysis> {
  const r = await t.api<Analysis>('GET', `/api/v1/rollouts/${id}/analysis`);
  expect(r.status).toBe(200);
  return r.body;
}
const guardrail = (a: Analysis, metric: string): Guardrail => a.guardrails.find((g) => g.metric === metric)!;

it('pools every step of the attempt, each against the baseline served at the same time', async () => {
  const r = await newRollout();
  // 5%: 1% refusals in both arms; then the traffic mix changes and at 50% both refuse 3%.
  await seed(r.id, r.baselineId, 'baseline', { requests: 95_000, refusals: 950 });
  await seed(r.id, r.candidateId, 'candidate', { requests: 5000, refusals: 50 });
  expect((await t.api('POST', `/api/v1/rollouts/${r.id}/promote`, {})).status).toBe(200);
  await seed(r.id, r.baselineId, 'baseline', { requests: 50_000, refusals: 1500 });
  await seed(r.id, r.candidateId, 'candidate', { requests: 50_000, refusals: 1500 });

  const a = await analysis(r.id);
  expect(a).toMatchObject({
    stepIndex: 1,
    requirement: 'harmBound',
    baselineSource: 'concurrent',
    holdbackPercent: 5,
  });
  expect(a.arms.candidate.requests).toBe(55_000);
  const refusals = guardrail(a, 'refusalRate');
  // Pooling the raw counts would have said +79% (3.1% vs 1.7%).
  expect(refusals.relativeChange).toBeCloseTo(0, 6);
  expect(refusals.evidence).toMatchObject({ window: 'rollout', steps: 2, clusters: 100 });
  expect(refusals.requirement).toBe('harmBound');
  expect(refusals.harm?.limit).toBeCloseTo(0.3, 9);
  expect(refusals.plain).toMatch(
    /^(Fine: about the same as the baseline; with 95% confidence|About the same as the baseline, not yet shown safe)/,
  );
});

it('widens the interval when a few users make the refusals (variance between clusters)', async () => {
  const spread = await newRollout();
  const heavy = await newRollout();
  for (const [r, isHeavy] of [
    [spread, false],
    [heavy, true],
  ] as const) {
    await seed(r.id, r.baselineId, 'baseline', { requests: 95_000, refusals: 475, heavy: isHeavy });
    await seed(r.id, r.candidateId, 'candidate', { requests: 5000, refusals: 25, heavy: isHeavy });
  }
  const a = guardrail(await analysis(spread.id), 'refusalRate');
  const b = guardrail(await analysis(heavy.id), 'refusalRate');
  expect(b.evidence?.designEffect).toBeGreaterThan(10);
  expect(a.evidence?.designEffect ?? 1).toBeLessThan(2);
});

it('leaves out ratings of answers still inside the feedback window, and says so', async () => {
  const r = await newRollout();
  await seed(r.id, r.baselineId, 'baseline', { requests: 95_000, refusals: 475, ratings: 2000, downs: 500 });
  await seed(r.id, r.candidateId, 'candidate', { requests: 5000, refusals: 25, ratings: 200, downs: 50 });
  // 30 more thumbs-down for candidate answers served ten minutes ago (downs arrive first).
  const revision = await revisionOf(r.id);
  const servedMinute = new Date(Math.floor((Date.now() - 600_000) / FEEDBACK_MINUTE_MS) * FEEDBACK_MINUTE_MS);
  await store.applyOnce([{ kind: 'feedback', requestId: randomUUID(), role: '' }], () => ({
    arms: [
      {
        ...emptyArmCounters(),
        feedback: 30,
        thumbsDown: 30,
        rolloutId: r.id,
        revision,
        versionId: r.candidateId,
        role: 'candidate',
        bucketStart: servedMinute,
      },
    ],
    pairs: [],
    samples: [],
    feedbackMinutes: [
      {
        rolloutId: r.id,
        servedMinute,
        revision,
        versionId: r.candidateId,
        role: 'candidate',
        feedback: 30,
        thumbsDown: 30,
      },
    ],
  }));
  const thumbs = guardrail(await analysis(r.id), 'thumbsDownRate');
  expect(thumbs.candidate).toBeCloseTo(0.25, 9);
  expect(thumbs.feedbackWindow).toMatchObject({
    seconds: 2 * HOUR,
    immature: { baseline: 0, candidate: 30 },
  });
});

it('starts afresh on a retry: the rolled-back attempt’s evidence does not count', async () => {
  const r = await newRollout();
  await seed(r.id, r.baselineId, 'baseline', { requests: 95_000, refusals: 475 });
  await seed(r.id, r.candidateId, 'candidate', { requests: 5000, refusals: 500 });
  const first = await analysis(r.id);
  expect(guardrail(first, 'refusalRate').verdict).toBe('Failed');
  expect((await t.api('POST', `/api/v1/rollouts/${r.id}/rollback`, { reason: 'refuses' })).status).toBe(200);
  expect((await t.api('POST', `/api/v1/rollouts/${r.id}/retry`, { reason: 'fixed' })).status).toBe(200);
  const again = await analysis(r.id);
  expect(again.attemptFromRevision).toBeGreaterThan(first.attemptFromRevision ?? Number.POSITIVE_INFINITY);
  expect(again.arms.candidate.requests).toBe(0);
  expect(guardrail(again, 'refusalRate').verdict).toBe('Inconclusive');
});

it('judges a 100% step without holdback on the earlier steps and says the baseline served nobody', async () => {
  const r = await newRollout(0);
  await seed(r.id, r.baselineId, 'baseline', { requests: 95_000, refusals: 475 });
  await seed(r.id, r.candidateId, 'candidate', { requests: 5000, refusals: 25 });
  expect((await t.api('POST', `/api/v1/rollouts/${r.id}/promote`, {})).status).toBe(200);
  expect((await t.api('POST', `/api/v1/rollouts/${r.id}/promote`, {})).status).toBe(200);
  await seed(r.id, r.candidateId, 'candidate', { requests: 100_000, refusals: 500 });
  const a = await analysis(r.id);
  expect(a).toMatchObject({
    stepIndex: 2,
    baselineSource: 'none',
    holdbackPercent: 0,
    requirement: 'noEvidenceOfHarm',
  });
  expect(guardrail(a, 'refusalRate').evidence?.steps).toBe(1);
});

it('holds a step past its rollback deadline while the analysis is on track, and rolls back once it is not', async () => {
  const m = await seedModel(t);
  const created = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
    model: m.name,
    candidateVersion: 'v2-int8',
    plan: {
      steps: [
        { type: 'setWeight', weight: 5, minDurationSeconds: HOUR },
        // Leads to 100%: it passes only on the harm bound. A 1 h deadline, and 30 days of grace.
        {
          type: 'setWeight',
          weight: 50,
          minDurationSeconds: HOUR,
          maxDurationSeconds: HOUR,
          onDeadline: 'rollback',
          deadlineGraceSeconds: 30 * 24 * HOUR,
        },
        { type: 'setWeight', weight: 100, minDurationSeconds: HOUR },
      ],
    },
    guardrails: { ...GUARDRAILS, thumbsDownRate: { enabled: false } },
  });
  expect(created.status).toBe(201);
  const id = created.body.id;
  expect((await t.api('POST', `/api/v1/rollouts/${id}/start`)).status).toBe(200);
  expect((await t.api('POST', `/api/v1/rollouts/${id}/promote`, {})).status).toBe(200);
  // Two hours into the 50% step: past its deadline, with equal arms but too little evidence yet
  // for the harm bound.
  await prisma.rollout.update({
    where: { id },
    data: { stepStartedAt: new Date(Date.now() - 2 * HOUR * 1000) },
  });
  await seed(id, m.baselineId, 'baseline', { requests: 6000, refusals: 120 });
  await seed(id, m.candidateId, 'candidate', { requests: 6000, refusals: 120 });
  const scheduler = t.cp.app.get(RolloutScheduler);
  const events = async () =>
    (
      await t.api<{ items: { type: string; evidence: Record<string, unknown> }[] }>(
        'GET',
        `/api/v1/rollouts/${id}/events`,
      )
    ).body.items;

  const onTrack = await analysis(id);
  expect(onTrack).toMatchObject({ stepIndex: 1, requirement: 'harmBound', verdict: 'Inconclusive' });
  expect(onTrack.secondsToDecide).toBeGreaterThan(0);
  await scheduler.tick();
  const extended = (await events()).filter((e) => e.type === 'ProgressDeadlineExtended');
  expect(extended).toHaveLength(1);
  expect(extended[0]?.evidence['secondsToDecide']).toBeCloseTo(onTrack.secondsToDecide ?? -1, -2);
  expect((await t.api<{ phase: string }>('GET', `/api/v1/rollouts/${id}`)).body.phase).toBe('Progressing');
  // Said once: another on-track tick changes nothing.
  await scheduler.tick();
  expect((await events()).filter((e) => e.type === 'ProgressDeadlineExtended')).toHaveLength(1);

  // The candidate now refuses 30% more on the point estimate (not yet proven worse): off track.
  await seed(id, m.candidateId, 'candidate', { requests: 6000, refusals: 192 });
  await seed(id, m.baselineId, 'baseline', { requests: 6000, refusals: 120 });
  const offTrack = await analysis(id);
  expect(offTrack.verdict).toBe('Inconclusive');
  expect(offTrack.secondsToDecide).toBeNull();
  await scheduler.tick();
  expect((await events()).map((e) => e.type)).toContain('DeadlineRolledBack');
  expect((await t.api<{ phase: string }>('GET', `/api/v1/rollouts/${id}`)).body.phase).toBe('RolledBack');
});
