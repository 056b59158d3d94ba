import { PROM_CLIENT_DEFAULTS, promtoolLintMetrics, waitFor } from '@aviary/testing';
import { fastPlan, seedModel, startTestControlPlane, type TestControlPlane } from './harness';

type Rollout = {
  id: string;
  phase: string;
  version: number;
  step: { index: number; total: number };
  split: { candidateWeight: number; shadowSampleRate: number | null };
  candidate: { id: string; label: string; status: string };
  message: string | null;
};
type Event = {
  type: string;
  actor: string;
  automatic: boolean;
  reason: string | null;
  message: string;
  evidence: Record<string, unknown>;
};

describe('admin API', () => {
  let t: TestControlPlane;

  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('walks a rollout through start, promote, pause, resume and rollback, logging who and why', async () => {
    const m = await seedModel(t);
    const created = await t.api<Rollout>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
      // The guardrails advance steps here, so the promote below is an override, not an approval.
      analysis: 'guardrails',
      reason: 'int8 build is 40% cheaper',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      phase: 'Pending',
      step: { index: -1, total: 6 },
      split: { candidateWeight: 0 },
    });
    const id = created.body.id;

    const started = await t.api<Rollout>('POST', `/api/v1/rollouts/${id}/start`);
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({
      phase: 'Progressing',
      step: { index: 0 },
      split: { candidateWeight: 0, shadowSampleRate: 0.5 },
    });

    const promoted = await t.api<Rollout>('POST', `/api/v1/rollouts/${id}/promote`, {
      reason: 'shadow outputs look equivalent',
    });
    expect(promoted.body).toMatchObject({
      phase: 'Progressing',
      step: { index: 1 },
      split: { candidateWeight: 5, shadowSampleRate: null },
    });

    const paused = await t.api<Rollout>('POST', `/api/v1/rollouts/${id}/pause`, {
      reason: 'investigating a ticket',
    });
    expect(paused.body).toMatchObject({ phase: 'Paused', split: { candidateWeight: 5 } });
    expect((await t.api<Rollout>('POST', `/api/v1/rollouts/${id}/resume`)).body.phase).toBe('Progressing');

    const rolledBack = await t.api<Rollout>('POST', `/api/v1/rollouts/${id}/rollback`, {
      reason: 'refusals up on support prompts',
    });
    expect(rolledBack.status).toBe(200);
    expect(rolledBack.body).toMatchObject({
      phase: 'RolledBack',
      split: { candidateWeight: 0 },
      candidate: { status: 'rolled_back' },
      message: 'refusals up on support prompts',
    });

    const events = await t.api<{ items: Event[] }>('GET', `/api/v1/rollouts/${id}/events`);
    expect(events.body.items.map((e) => e.type)).toEqual([
      'Created',
      'Started',
      'Promoted',
      'Paused',
      'Resumed',
      'RolledBack',
    ]);
    const promote = events.body.items[2];
    expect(promote).toMatchObject({
      actor: 'bootstrap-admin',
      automatic: false,
      reason: 'shadow outputs look equivalent',
      evidence: { override: true, candidateWeightAfter: 5 },
    });
    expect(events.body.items[5]).toMatchObject({
      reason: 'refusals up on support prompts',
      evidence: { candidateWeightBefore: 5, candidateWeightAfter: 0 },
    });
  });

  it('answers 409 to an illegal transition and leaves the rollout as it was', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<Rollout>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    const res = await t.api('POST', `/api/v1/rollouts/${r.id}/promote`);
    expect(res.status).toBe(409);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body).toMatchObject({ code: 'ILLEGAL_TRANSITION', status: 409 });
    expect((await t.api<Rollout>('GET', `/api/v1/rollouts/${r.id}`)).body).toMatchObject({
      phase: 'Pending',
      version: r.version,
    });
  });

  it('lets only one of two operators acting on the same version win', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<Rollout>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    const started = await t.api<Rollout>('POST', `/api/v1/rollouts/${r.id}/start`);
    const etag = started.headers.get('etag');
    expect(etag).toBe(`"${started.body.version}"`);
    const results = await Promise.all([
      t.api('POST', `/api/v1/rollouts/${r.id}/promote`, {}, { headers: { 'if-match': etag ?? '' } }),
      t.api(
        'POST',
        `/api/v1/rollouts/${r.id}/rollback`,
        { reason: 'second operator' },
        { headers: { 'if-match': etag ?? '' } },
      ),
    ]);
    expect(results.map((x) => x.status).sort()).toEqual([200, 409]);
    const loser = results.find((x) => x.status === 409);
    expect(loser?.body).toMatchObject({ code: 'CONCURRENT_MODIFICATION' });
    const events = await t.api<{ items: Event[] }>('GET', `/api/v1/rollouts/${r.id}/events`);
    expect(events.body.items).toHaveLength(3); // Created, Started, and exactly one of the two
  });

  it('keeps one active rollout per model', async () => {
    const m = await seedModel(t);
    await t.api('POST', `/api/v1/models/${m.name}/versions`, {
      label: 'v3',
      upstreamBaseUrl: 'http://127.0.0.1:9/v1',
      upstreamModel: 'x',
    });
    expect(
      (await t.api('POST', '/api/v1/rollouts', { model: m.name, candidateVersion: 'v2-int8' })).status,
    ).toBe(201);
    const second = await t.api('POST', '/api/v1/rollouts', { model: m.name, candidateVersion: 'v3' });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: 'ROLLOUT_ALREADY_ACTIVE' });
  });

  it('never silently rolls out a version that was rolled back', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<Rollout>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    await t.api('POST', `/api/v1/models/${m.name}/rollback`, { reason: 'kill switch' });
    const again = await t.api('POST', '/api/v1/rollouts', { model: m.name, candidateVersion: 'v2-int8' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'VERSION_ROLLED_BACK' });
    const explicit = await t.api<Rollout>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      allowRolledBackCandidate: true,
      reason: 'fixed the chat template',
    });
    expect(explicit.status).toBe(201);
  });

  it('retries a rolled-back rollout only with a reason', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<Rollout>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    await t.api('POST', `/api/v1/rollouts/${r.id}/rollback`, { reason: 'bad' });
    const noReason = await t.api('POST', `/api/v1/rollouts/${r.id}/retry`, {});
    expect(noReason.status).toBe(400);
    expect(noReason.body).toMatchObject({ errors: [{ field: 'reason' }] });
    const retried = await t.api<Rollout>('POST', `/api/v1/rollouts/${r.id}/retry`, {
      reason: 'upstream fixed',
    });
    expect(retried.body).toMatchObject({
      phase: 'Progressing',
      step: { index: 0 },
      candidate: { status: 'candidate' },
    });
  });

  it('promotes to the end with full: true and makes the candidate stable', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<Rollout>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    const done = await t.api<Rollout>('POST', `/api/v1/rollouts/${r.id}/promote`, {
      full: true,
      reason: 'hotfix',
    });
    expect(done.body).toMatchObject({ phase: 'Healthy', split: { candidateWeight: 100 } });
    const model = await t.api<{ stableVersion: { label: string }; activeRollout: unknown }>(
      'GET',
      `/api/v1/models/${m.name}`,
    );
    expect(model.body).toMatchObject({ stableVersion: { label: 'v2-int8' }, activeRollout: null });
  });

  it('filters the rollout list by model and phase', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<Rollout>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
    });
    const byModel = await t.api<{ items: Rollout[] }>('GET', `/api/v1/rollouts?model=${m.name}`);
    expect(byModel.body.items.map((x) => x.id)).toEqual([r.id]);
    const pending = await t.api<{ items: Rollout[] }>(
      'GET',
      `/api/v1/rollouts?model=${m.name}&phase=Healthy`,
    );
    expect(pending.body.items).toEqual([]);
    const bad = await t.api('GET', '/api/v1/rollouts?phase=Sideways');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ errors: [{ field: 'phase' }] });
  });

  it('distinguishes a missing or unknown token (401) from a too-weak one (403)', async () => {
    const none = await t.api('GET', '/api/v1/models', undefined, { token: null });
    expect(none.status).toBe(401);
    expect(none.contentType).toContain('application/problem+json');
    expect((await t.api('GET', '/api/v1/models', undefined, { token: 'avy_not-a-real-token' })).status).toBe(
      401,
    );

    const viewer = await t.api<{ token: string }>('POST', '/api/v1/tokens', {
      name: 'pm-dashboard',
      role: 'viewer',
    });
    expect(viewer.status).toBe(201);
    expect((await t.api('GET', '/api/v1/models', undefined, { token: viewer.body.token })).status).toBe(200);
    const denied = await t.api('POST', '/api/v1/models', { name: 'nope' }, { token: viewer.body.token });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'FORBIDDEN' });

    const operator = await t.api<{ token: string; id: string }>('POST', '/api/v1/tokens', {
      name: 'oncall',
      role: 'operator',
    });
    const m = await seedModel(t);
    const asOperator = await t.api(
      'POST',
      '/api/v1/rollouts',
      { model: m.name, candidateVersion: 'v2-int8' },
      { token: operator.body.token },
    );
    expect(asOperator.status).toBe(201);
    expect((await t.api('DELETE', `/api/v1/tokens/${operator.body.id}`)).status).toBe(200);
    expect((await t.api('GET', '/api/v1/models', undefined, { token: operator.body.token })).status).toBe(
      401,
    );
  });

  it('never stores or returns an API key, only the name of where it lives', async () => {
    const m = await seedModel(t);
    const bad = await t.api('POST', `/api/v1/models/${m.name}/versions`, {
      label: 'v9',
      upstreamBaseUrl: 'https://api.example.com/v1',
      upstreamModel: 'x',
      apiKeyRef: 'sk-live-abcdef0123456789',
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ errors: [{ field: 'apiKeyRef' }] });
  });

  it('serves its OpenAPI document and docs UI, health, readiness and metrics without a token', async () => {
    const doc = await t.api<{ openapi: string; paths: Record<string, unknown> }>(
      'GET',
      '/api/openapi.json',
      undefined,
      { token: null },
    );
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/rollouts',
        '/api/v1/rollouts/{id}/rollback',
        '/api/v1/models/{model}/versions',
      ]),
    );
    expect((await t.api('GET', '/api/docs', undefined, { token: null })).status).toBe(200);
    expect((await t.api('GET', '/healthz', undefined, { token: null })).body).toEqual({ status: 'ok' });
    expect((await t.api('GET', '/readyz', undefined, { token: null })).body).toMatchObject({
      status: 'ok',
      checks: { database: { status: 'ok' }, flags: { status: 'ok', publisher: 'built-in' } },
    });
    const metrics = await t.api<string>('GET', '/metrics', undefined, { token: null });
    expect(metrics.body).toContain('aviary_rollout_candidate_weight_ratio{');
    // One phase series per rollout (the phase it is in), not one per phase.
    const phases = [
      ...metrics.body.matchAll(/^aviary_rollout_phase\{[^}]*rollout="([^"]+)"[^}]*\} (\S+)$/gm),
    ];
    expect(phases.length).toBeGreaterThan(0);
    expect(new Set(phases.map((m) => m[1])).size).toBe(phases.length);
    expect(phases.map((m) => m[2])).toEqual(phases.map(() => '1'));
    for (const m of metrics.body.matchAll(/^aviary_rollout_candidate_weight_ratio\{[^}]*\} (\S+)$/gm))
      expect(Number(m[1])).toBeLessThanOrEqual(1);
    expect(promtoolLintMetrics(metrics.body).filter((p) => !PROM_CLIENT_DEFAULTS.test(p))).toEqual([]);
    expect(metrics.body).toMatch(/aviary_rollout_transitions_total\{model="[^"]+",cause="rollback"\} \d/);
  });
});

describe('rollout scheduler', () => {
  let t: TestControlPlane;
  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'time-only', AVIARY_TICK_INTERVAL_MS: '100' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('advances a compressed plan step by step to Healthy on its own and says why', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<Rollout>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(1),
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    await waitFor(
      'rollout to finish',
      async () => (await t.api<Rollout>('GET', `/api/v1/rollouts/${r.id}`)).body.phase === 'Healthy',
      20_000,
    );
    const events = await t.api<{ items: Event[] }>('GET', `/api/v1/rollouts/${r.id}/events`);
    // Time-only: the start is followed by the notice that the guardrails are not evaluated.
    expect(events.body.items.filter((e) => e.automatic)[0]?.type).toBe('GuardrailsNotEvaluated');
    const automatic = events.body.items.filter((e) => e.automatic && e.type !== 'GuardrailsNotEvaluated');
    expect(automatic.map((e) => e.type)).toEqual([
      'StepAdvanced',
      'StepAdvanced',
      'StepAdvanced',
      'StepAdvanced',
      'StepAdvanced',
      'Completed',
    ]);
    // 5% of users stay on the baseline at 100% and in the bake (the holdback); everyone once completed.
    expect(automatic.map((e) => e.evidence['candidateWeightAfter'])).toEqual([5, 20, 50, 95, 95, 100]);
    expect(automatic[0]).toMatchObject({
      actor: 'aviary-scheduler',
      evidence: { verdict: 'Successful', analysis: 'time-only' },
    });
    expect(automatic[0]?.evidence['detail']).toContain('advancing on time alone');
  }, 30_000);

  it('does not advance a paused rollout', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<Rollout>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(1),
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    await t.api('POST', `/api/v1/rollouts/${r.id}/pause`, { reason: 'hold' });
    await new Promise((res) => setTimeout(res, 1500));
    expect((await t.api<Rollout>('GET', `/api/v1/rollouts/${r.id}`)).body).toMatchObject({
      phase: 'Paused',
      step: { index: 0 },
    });
  });
});
