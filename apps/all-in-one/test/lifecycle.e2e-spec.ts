import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type Started, startEmbedded, stop } from './npm-start';

// Issue 11 against `npm start` (one process, embedded database, built-in flags, demo traffic through
// the router), run with deprecations turned into errors (issue 11.7: pg's overlapping-query warning
// used to show within seconds). One process for the file; each test leaves no active rollout.

const MODEL = 'demo-chat';
/** Few samples and wide tolerances (the demo's): a candidate refusing half its answers still fails at once. */
const GUARDRAILS = {
  refusalRate: { minSamples: 20, maxRelativeIncrease: 0.5 },
  errorRate: { minSamples: 20, maxRelativeIncrease: 3, absoluteCeiling: null },
  silentFailureRate: { minSamples: 20, maxRelativeIncrease: 3 },
  latencyP95: { minSamples: 20, maxRelativeIncrease: 1 },
  outputLengthDrop: { minSamples: 20 },
  thumbsDownRate: { minSamples: 5, maxRelativeIncrease: 1 },
};

interface Rollout {
  id: string;
  phase: string;
  step: { index: number; deadline: { exceededAt: string | null } | null };
  baseline: { label: string };
  candidate: { label: string; status: string };
  message: string | null;
}
interface RolloutEvent {
  type: string;
  actor: string;
  reason: string | null;
  fromPhase: string | null;
  message: string;
  evidence: Record<string, unknown>;
}

describe('the rollout lifecycle on npm start', () => {
  let dataDir: string;
  let aviary: Started;
  let token: string;
  let candidateOrigin: string;
  let baselineUrl: string;

  async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown) {
    const res = await fetch(`${aviary.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }
  const rollout = async (id: string) => (await api<Rollout>('GET', `/api/v1/rollouts/${id}`)).body;
  const events = async (id: string) =>
    (await api<{ items: RolloutEvent[] }>('GET', `/api/v1/rollouts/${id}/events`)).body.items;
  async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 60_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (aviary.proc.exitCode !== null) throw new Error(`Aviary exited:\n${aviary.output().slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  async function candidateBehaviour(preset: 'typical' | 'refusesMore') {
    const res = await fetch(`${candidateOrigin}/admin/behaviour`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ preset }),
    });
    expect(res.status).toBe(200);
  }
  async function create(candidateVersion: string, body: Record<string, unknown>) {
    const res = await api<Rollout>('POST', '/api/v1/rollouts', {
      model: MODEL,
      candidateVersion,
      guardrails: GUARDRAILS,
      allowRolledBackCandidate: true,
      reason: 'lifecycle e2e',
      ...body,
    });
    expect(res.status).toBe(201);
    return res.body;
  }
  /** v2-int8 promoted straight to stable with this watch: the rollout, Healthy and watching. */
  async function completeWatched(
    watch: { durationSeconds: number; referenceSeconds: number },
    guardrails: Record<string, unknown> = GUARDRAILS,
  ) {
    const r = await create('v2-int8', {
      guardrails,
      plan: { steps: [{ type: 'setWeight', weight: 100, minDurationSeconds: 3600 }], watch },
    });
    await api('POST', `/api/v1/rollouts/${r.id}/start`);
    const done = await api<Rollout & { watch: { status: string } }>(
      'POST',
      `/api/v1/rollouts/${r.id}/promote`,
      {
        full: true,
      },
    );
    expect([done.body.phase, done.body.watch.status]).toEqual(['Healthy', 'watching']);
    return r;
  }
  async function servedVersions(users: number): Promise<Set<string>> {
    const labels = new Set<string>();
    for (let i = 0; i < users; i++) {
      const res = await fetch(`${aviary.routerUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], user: `u-${i}` }),
      });
      // The demo servers' "typical" behaviour fails now and then; who answered is what counts here.
      const served = res.headers.get('x-aviary-model-version');
      if (served) labels.add(served);
      await res.arrayBuffer();
    }
    return labels;
  }

  beforeAll(async () => {
    if (!existsSync(main)) throw new Error('dist is missing: run `npm run build` (npm test does)');
    dataDir = mkdtempSync(join(tmpdir(), 'aviary-lifecycle-'));
    aviary = await startEmbedded(
      dataDir,
      {
        AVIARY_ROUTER_PORT: '0',
        AVIARY_DEMO_BASELINE_PORT: '0',
        AVIARY_DEMO_CANDIDATE_PORT: '0',
        AVIARY_TICK_INTERVAL_MS: '250',
        AVIARY_WATCH_CHECK_MS: '500',
        AVIARY_FLAGS_REFRESH_MS: '200',
      },
      ['--throw-deprecation'],
    );
    const out = aviary.output();
    token = /admin token\s+(avy_\S+)/.exec(out)?.[1] ?? '';
    const upstreams = /demo upstreams baseline (\S+)\s+candidate (\S+)/.exec(out);
    baselineUrl = upstreams?.[1] ?? '';
    candidateOrigin = new URL(upstreams?.[2] ?? 'http://invalid').origin;
    expect(token).not.toBe('');
    // A third version (on the baseline demo server) to move the stable version around with.
    const v3 = await api('POST', `/api/v1/models/${MODEL}/versions`, {
      label: 'v3',
      upstreamBaseUrl: baselineUrl,
      upstreamModel: 'demo-8b-v3',
    });
    expect(v3.status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    if (aviary) {
      const code = await stop(aviary);
      // --throw-deprecation: a deprecation anywhere (pg's overlapping queries) would have killed it.
      expect(aviary.output()).not.toMatch(/DeprecationWarning/);
      expect(code).toBe(0);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);
  afterEach(async () => {
    await candidateBehaviour('typical');
  });

  it('rolls a failing candidate back while the rollout is paused (pause means "do not advance", not "do not protect")', async () => {
    const r = await create('v2-int8', {
      plan: {
        steps: [
          { type: 'setWeight', weight: 50, minDurationSeconds: 3600 },
          { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
        ],
      },
    });
    expect((await api('POST', `/api/v1/rollouts/${r.id}/start`)).status).toBe(200);
    expect((await api('POST', `/api/v1/rollouts/${r.id}/pause`, { reason: 'looks odd' })).status).toBe(200);
    await candidateBehaviour('refusesMore');

    const rolledBack = await until('the automatic rollback while paused', async () => {
      const now = await rollout(r.id);
      return now.phase === 'RolledBack' ? now : null;
    });
    expect(rolledBack.message).toMatch(/refusal rate.*\(while paused\)/);
    const auto = (await events(r.id)).find((e) => e.type === 'AutoRolledBack');
    expect(auto).toMatchObject({ fromPhase: 'Paused', actor: 'aviary-scheduler' });
    await until('routers on the baseline', async () => {
      const served = await servedVersions(20);
      return served.size === 1 && served.has('v1-fp16');
    });
  }, 120_000);

  it('retries against the current stable version, answers 409 while another rollout is active, and keeps one stable version', async () => {
    // v2-int8 was rolled back above (rollout A). Rollout B of v3: start, roll back, retry.
    const a = (await api<{ items: Rollout[] }>('GET', `/api/v1/rollouts?model=${MODEL}&phase=RolledBack`))
      .body.items[0]!;
    const b = await create('v3', {
      plan: { steps: [{ type: 'setWeight', weight: 100, minDurationSeconds: 3600 }] },
    });
    await api('POST', `/api/v1/rollouts/${b.id}/start`);
    await api('POST', `/api/v1/rollouts/${b.id}/rollback`, { reason: 'try again later' });
    expect((await api('POST', `/api/v1/rollouts/${b.id}/retry`, { reason: 'again' })).status).toBe(200);

    // A retry while another rollout of the model is active: a 409 with a code (was a 500).
    const conflict = await api<{ code: string }>('POST', `/api/v1/rollouts/${a.id}/retry`, { reason: 'now' });
    expect([conflict.status, conflict.body.code]).toEqual([409, 'ROLLOUT_ALREADY_ACTIVE']);

    // B completes: v3 is the stable version now, v1-fp16 retired.
    expect((await api<Rollout>('POST', `/api/v1/rollouts/${b.id}/promote`, { full: true })).body.phase).toBe(
      'Healthy',
    );
    const retried = await api<Rollout>('POST', `/api/v1/rollouts/${a.id}/retry`, {
      reason: 'refusals fixed in the int8 build',
    });
    expect(retried.status).toBe(200);
    expect(retried.body.baseline.label).toBe('v3');
    const retriedEvent = (await events(a.id)).findLast((e) => e.type === 'Retried');
    expect(retriedEvent?.message).toMatch(
      /the baseline is now v3, the model's current stable version \(was v1-fp16\)/,
    );
    expect(retriedEvent?.evidence).toMatchObject({
      baseline: { label: 'v3' },
      previousBaseline: { label: 'v1-fp16' },
    });

    // Users go to v2-int8 (50%) or v3, never to the retired v1-fp16.
    await until('the retried split', async () => {
      const s = await servedVersions(30);
      return s.has('v2-int8') && s.has('v3') ? s : null;
    });
    // A fresh sample once the router has the new split: the one that first showed it can still hold
    // answers served by the split before (the router polls its flags every 500 ms).
    const served = await servedVersions(30);
    expect(served.has('v1-fp16')).toBe(false);

    expect((await api<Rollout>('POST', `/api/v1/rollouts/${a.id}/promote`, { full: true })).body.phase).toBe(
      'Healthy',
    );
    const model = await api<{
      versions: { label: string; status: string }[];
      stableVersion: { label: string };
    }>('GET', `/api/v1/models/${MODEL}`);
    expect(model.body.stableVersion.label).toBe('v2-int8');
    expect(model.body.versions.filter((v) => v.status === 'stable').map((v) => v.label)).toEqual(['v2-int8']);
    expect(Object.fromEntries(model.body.versions.map((v) => [v.label, v.status]))).toMatchObject({
      'v1-fp16': 'retired',
      v3: 'retired',
    });
  }, 120_000);

  it('waits at an approval gate, records who approved and why, moves on after a timed pause, and holds past a progress deadline', async () => {
    const r = await create('v3', {
      plan: {
        steps: [
          { type: 'setWeight', weight: 20, minDurationSeconds: 3600 },
          { type: 'pause' },
          { type: 'pause', durationSeconds: 2 },
          { type: 'pause', maxDurationSeconds: 2, onDeadline: 'hold' },
          { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
        ],
      },
    });
    await api('POST', `/api/v1/rollouts/${r.id}/start`);
    // An override past 20% (not what a gate is for), then the gate holds whatever the guardrails say.
    expect((await api<Rollout>('POST', `/api/v1/rollouts/${r.id}/promote`, {})).body.step.index).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await rollout(r.id)).step.index).toBe(1);
    const overview = await api<{
      models: { name: string; rollouts: { id: string; next: { waitingFor: string } }[] }[];
    }>('GET', '/status/api/overview');
    const row = overview.body.models.find((m) => m.name === MODEL)?.rollouts.find((x) => x.id === r.id);
    expect(row?.next.waitingFor).toBe('approval');

    const noReason = await api<{ errors: { field: string }[] }>(
      'POST',
      `/api/v1/rollouts/${r.id}/promote`,
      {},
    );
    expect(noReason.status).toBe(400);
    expect(noReason.body.errors.map((e) => e.field)).toEqual(['reason']);
    const approved = await api<Rollout>('POST', `/api/v1/rollouts/${r.id}/promote`, {
      reason: 'PM looked at the 20% answers',
    });
    expect(approved.body.step.index).toBe(2);
    const approval = (await events(r.id)).find((e) => e.type === 'Approved');
    expect(approval).toMatchObject({ actor: 'bootstrap-admin', reason: 'PM looked at the 20% answers' });

    // The timed pause moves on by itself; the next gate nobody approves passes its deadline and holds.
    await until(
      'the deadline hold',
      async () => (await rollout(r.id)).step.deadline?.exceededAt ?? null,
      30_000,
    );
    const held = await rollout(r.id);
    expect([held.phase, held.step.index]).toEqual(['Progressing', 3]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const log = await events(r.id);
    expect(log.map((e) => e.type)).toEqual(
      expect.arrayContaining(['StepAdvanced', 'ProgressDeadlineExceeded']),
    );
    expect(log.filter((e) => e.type === 'ProgressDeadlineExceeded')).toHaveLength(1);
    const page = await api<{ rollout: { deadline: { exceededAt: string | null } } }>(
      'GET',
      `/status/api/rollouts/${r.id}`,
    );
    expect(page.body.rollout.deadline.exceededAt).not.toBeNull();
    expect(
      (await api<Rollout>('POST', `/api/v1/rollouts/${r.id}/promote`, { reason: 'go on' })).body.step.index,
    ).toBe(4);
    expect((await api<Rollout>('POST', `/api/v1/rollouts/${r.id}/promote`, { full: true })).body.phase).toBe(
      'Healthy',
    );
  }, 120_000);

  it('rolls back a gate nobody approved by its deadline, and protects a manual-approval rollout', async () => {
    const gated = await create('v2-int8', {
      plan: {
        steps: [
          { type: 'pause', maxDurationSeconds: 2, onDeadline: 'rollback' },
          { type: 'setWeight', weight: 100, minDurationSeconds: 1 },
        ],
      },
    });
    await api('POST', `/api/v1/rollouts/${gated.id}/start`);
    await until(
      'the deadline rollback',
      async () => (await rollout(gated.id)).phase === 'RolledBack',
      30_000,
    );
    expect((await events(gated.id)).map((e) => e.type)).toContain('DeadlineRolledBack');

    const manual = await create('v2-int8', {
      analysis: 'manual',
      plan: {
        steps: [
          { type: 'setWeight', weight: 50, minDurationSeconds: 1 },
          { type: 'setWeight', weight: 100, minDurationSeconds: 1 },
        ],
      },
    });
    await api('POST', `/api/v1/rollouts/${manual.id}/start`);
    // Long past the minimum with a healthy candidate: still at 50%, waiting for an approval.
    await new Promise((resolve) => setTimeout(resolve, 8000));
    expect((await rollout(manual.id)).step.index).toBe(0);
    await candidateBehaviour('refusesMore');
    await until(
      'the automatic rollback in manual mode',
      async () => (await rollout(manual.id)).phase === 'RolledBack',
    );
    expect((await events(manual.id)).map((e) => e.type)).toContain('AutoRolledBack');
  }, 120_000);

  it('watches the new stable version after 100%, raises a regression against its first seconds, and reverts with one command', async () => {
    const r = await completeWatched({ durationSeconds: 600, referenceSeconds: 20 });
    // Its first 20 s as the stable version are the reference; then it starts refusing.
    await new Promise((resolve) => setTimeout(resolve, 21_000));
    await candidateBehaviour('refusesMore');
    const regressed = await until(
      'the watch to find the regression',
      async () => (await events(r.id)).find((e) => e.type === 'WatchRegressed'),
      90_000,
    );
    expect(regressed.message).toMatch(
      /^v2-int8 regressed as the stable version against its own first 20s: .*refusal rate/,
    );
    expect(regressed.message).toContain('aviary revert demo-chat');
    const metrics = await (await fetch(`${aviary.url}/metrics`)).text();
    expect(metrics).toMatch(
      /aviary_stable_version_regressed\{model="demo-chat",rollout="[0-9a-f-]+",version="v2-int8"\} 1/,
    );

    const reverted = await api<Rollout & { watch: { status: string } }>(
      'POST',
      `/api/v1/models/${MODEL}/revert`,
      {
        reason: 'refusals up on day two',
      },
    );
    expect(reverted.status).toBe(200);
    expect(reverted.body.watch.status).toBe('reverted');
    const model = await api<{
      stableVersion: { label: string };
      versions: { label: string; status: string }[];
    }>('GET', `/api/v1/models/${MODEL}`);
    expect(model.body.stableVersion.label).toBe('v3');
    expect(model.body.versions.find((v) => v.label === 'v2-int8')?.status).toBe('rolled_back');
    await until('routers on the previous version', async () => {
      const served = await servedVersions(20);
      return served.size === 1 && served.has('v3');
    });
    expect((await events(r.id)).find((e) => e.type === 'Reverted')).toMatchObject({
      actor: 'bootstrap-admin',
      reason: 'refusals up on day two',
    });
    // Reverting again would land on v2-int8, which was just rolled back: refused.
    const again = await api<{ detail: string }>('POST', `/api/v1/models/${MODEL}/revert`, {
      reason: 'again',
    });
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/was rolled back since/);
  }, 180_000);

  it('ends a watch that saw too few answers as inconclusive, never as passed', async () => {
    const r = await completeWatched(
      { durationSeconds: 12, referenceSeconds: 4 },
      // Demo traffic cannot give the refusal guardrail a million answers in seconds.
      { ...GUARDRAILS, refusalRate: { minSamples: 1_000_000, maxRelativeIncrease: 0.5 } },
    );
    const ended = await until(
      'the watch to end',
      async () => (await events(r.id)).find((e) => e.type.startsWith('Watch')),
      60_000,
    );
    expect(ended.type).toBe('WatchInconclusive');
    expect(ended.message).toMatch(
      /^v2-int8's watch is inconclusive: not enough answers after promotion to say whether it regressed against its first 4s \(.*refusals: [\d,]+ of 1,000,000 answers/,
    );
    const after = await api<{ watch: { status: string } }>('GET', `/api/v1/rollouts/${r.id}`);
    expect(after.body.watch.status).toBe('inconclusive');
  }, 120_000);
});
