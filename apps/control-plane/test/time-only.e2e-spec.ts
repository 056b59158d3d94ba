import { fastPlan, seedModel, startTestControlPlane, type TestControlPlane } from './harness';

// Issue 11: AVIARY_ANALYSIS=time-only turns the guardrails off for every rollout, also those created
// in `guardrails` mode. That stays what it means, but nobody may miss it: the readiness probe, the
// metrics, the status page and each rollout's decision log say so.

const NOTICE =
  'automatic analysis is off (AVIARY_ANALYSIS=time-only): rollouts advance on time only, nothing rolls back by itself';

interface Readyz {
  status: string;
  warnings?: string[];
  checks: { analysis: { status: string; mode: string; message?: string } };
}

describe('AVIARY_ANALYSIS=time-only', () => {
  let t: TestControlPlane;
  let viewer: string;

  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'time-only' });
    viewer = (await t.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'pm', role: 'viewer' })).body
      .token;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is said on /readyz and in the aviary_analysis_enabled metric (0)', async () => {
    const ready = await t.api<Readyz>('GET', '/readyz', undefined, { token: null });
    expect(ready.status).toBe(200);
    expect(ready.body.warnings).toEqual([NOTICE]);
    expect(ready.body.checks.analysis).toEqual({ status: 'off', mode: 'time-only', message: NOTICE });
    const metrics = (await t.api<string>('GET', '/metrics', undefined, { token: null })).body;
    expect(metrics).toContain('aviary_analysis_enabled{mode="time-only"} 0');
  });

  it('is said above every status page', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    for (const path of ['/status', `/status/rollouts/${r.id}`, `/status/models/${m.name}`]) {
      const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${viewer}` } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain(
        '<p class="notice" role="alert" id="analysis-off">Automatic analysis is off (AVIARY_ANALYSIS=time-only): rollouts advance on time only, nothing rolls back by itself.</p>',
      );
    }
  });

  it('files a decision-log event on a rollout started in guardrails mode: its guardrails are not evaluated', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<{ id: string; analysis: string }>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      analysis: 'guardrails',
      plan: fastPlan(3600),
    });
    expect(r.analysis).toBe('guardrails');
    expect((await t.api('POST', `/api/v1/rollouts/${r.id}/start`)).status).toBe(200);
    const events = (
      await t.api<{ items: { type: string; message: string | null; evidence: Record<string, unknown> }[] }>(
        'GET',
        `/api/v1/rollouts/${r.id}/events`,
      )
    ).body.items;
    const note = events.find((e) => e.type === 'GuardrailsNotEvaluated');
    expect(note).toBeDefined();
    expect(note?.message).toContain('Guardrails are not evaluated for this rollout');
    expect(note?.message).toContain(NOTICE);
    expect(note?.evidence).toEqual({ analysis: 'time-only', analysisMode: 'guardrails' });
  });
});

describe('AVIARY_ANALYSIS=guardrails', () => {
  let t: TestControlPlane;
  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'guardrails' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('says analysis is on, and files no such event', async () => {
    const ready = await t.api<Readyz>('GET', '/readyz', undefined, { token: null });
    expect(ready.body.warnings).toBeUndefined();
    expect(ready.body.checks.analysis).toEqual({ status: 'on', mode: 'guardrails' });
    expect((await t.api<string>('GET', '/metrics', undefined, { token: null })).body).toContain(
      'aviary_analysis_enabled{mode="guardrails"} 1',
    );
    const m = await seedModel(t);
    const { body: r } = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    const events = (await t.api<{ items: { type: string }[] }>('GET', `/api/v1/rollouts/${r.id}/events`)).body
      .items;
    expect(events.map((e) => e.type)).not.toContain('GuardrailsNotEvaluated');
  });
});
