import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startDemoLlm, type DemoLlm } from '@aviary/demo-llm';
import { flagNameForModel } from '@aviary/domain';
import { testUnleashUrl, unleashAdmin, waitFor } from '@aviary/testing';
import { startEmbedded, stop } from '@aviary/all-in-one/testing';
import {
  FlagDriftWatcher,
  startTestControlPlane,
  type TestControlPlane,
} from '@aviary/control-plane/testing';
import { loadRouterConfig, startRouter, type RunningRouter } from '@aviary/router';

// Issues 11.4 and 11.5 against a real unleash-server: what an Unleash user does to stop a rollout —
// switch the flag's environment off, archive the flag, disable the candidate's strategy — must never
// be an outage. Routers serve the model's last known baseline (and say they are degraded); the
// control plane finds the change within a poll or two, logs it, records a rollback by that user, and
// publishes the baseline-only split again. An edit is overwritten, with an event.

const unleash = () => testUnleashUrl();
const ENV = 'development';

const admin = unleashAdmin;

interface AdminStrategy {
  id: string;
  name: string;
  parameters: Record<string, string>;
  variants: { name: string }[];
  disabled?: boolean;
}
const featurePath = (model: string) => `/api/admin/projects/default/features/${flagNameForModel(model)}`;
async function candidateStrategy(model: string): Promise<AdminStrategy> {
  const feature = (await admin('GET', featurePath(model))) as {
    environments: { name: string; strategies: AdminStrategy[] }[];
  };
  const strategy = feature.environments
    .find((e) => e.name === ENV)
    ?.strategies.find((s) => s.variants[0]?.name === 'candidate');
  if (!strategy) throw new Error('no candidate strategy');
  return strategy;
}

interface RouterReadyz {
  status: string;
  checks: { flags: { status: string; degraded: { model: string; fault: string; serving: string }[] } };
}
interface Event {
  type: string;
  actor: string;
  automatic: boolean;
  reason: string | null;
  evidence: Record<string, unknown>;
}

describe('an Unleash user stops a rollout in Unleash', () => {
  let t: TestControlPlane;
  let router: RunningRouter;
  let baseline: DemoLlm;
  let candidate: DemoLlm;
  let backupDir: string;
  let openai: OpenAI;

  beforeAll(async () => {
    baseline = await startDemoLlm({ name: 'baseline', seed: 1 });
    candidate = await startDemoLlm({ name: 'candidate', seed: 2 });
    t = await startTestControlPlane({
      AVIARY_ANALYSIS: 'manual',
      UNLEASH_URL: unleash(),
      // No timer: each test runs the drift check itself once the routers' fail-safe has been seen, so
      // the repair can never race ahead of the router's poll (a 2.5 s timer lost that race under load).
      // The timer itself is the same Periodic every other watcher runs on.
      AVIARY_FLAG_DRIFT_CHECK_MS: '0',
      AVIARY_PUBLIC_URL: 'https://aviary.example.com',
    });
    backupDir = mkdtempSync(join(tmpdir(), 'aviary-killswitch-'));
    router = await startRouter(
      loadRouterConfig({
        AVIARY_ROUTER_PORT: '0',
        AVIARY_FLAGS_URL: `${unleash()}/api`,
        AVIARY_FLAGS_REFRESH_MS: '100',
        AVIARY_FLAGS_BACKUP_DIR: backupDir,
        AVIARY_LOG_LEVEL: 'error',
        // This suite is about flags; client keys are router-keys.e2e-spec's.
        AVIARY_ROUTER_AUTH: 'off',
        AVIARY_ACCESS_LOG: 'off',
      }),
      { log: () => undefined, readyTimeoutMs: 3000 },
    );
    openai = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: 'x', maxRetries: 0 });
  }, 60_000);
  afterAll(async () => {
    await router?.close();
    await t?.close();
    await baseline?.close();
    await candidate?.close();
    rmSync(backupDir, { recursive: true, force: true });
  });

  /** A model with v1 (baseline server) and v2 (candidate server) and a rollout at 20%, seen by the router. */
  async function at20(): Promise<{ model: string; id: string }> {
    const model = `ks-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
    await t.api('POST', '/api/v1/models', { name: model });
    await t.api('POST', `/api/v1/models/${model}/versions`, {
      label: 'v1',
      upstreamBaseUrl: baseline.url,
      upstreamModel: 'b',
    });
    await t.api('POST', `/api/v1/models/${model}/versions`, {
      label: 'v2',
      upstreamBaseUrl: candidate.url,
      upstreamModel: 'c',
    });
    const { body: r } = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model,
      candidateVersion: 'v2',
      plan: {
        steps: [
          { type: 'setWeight', weight: 20, minDurationSeconds: 3600 },
          { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
        ],
      },
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    // A new model is unknown (404) until the router's next poll of Unleash.
    await waitFor(
      'the router to serve the candidate to some users',
      async () => (await served(model, 40).catch(() => new Set<string>())).has('v2'),
      20_000,
    );
    return { model, id: r.id };
  }

  /** Which versions serve `users` distinct users (the OpenAI SDK, as a client would). */
  async function served(model: string, users: number): Promise<Set<string>> {
    const labels = new Set<string>();
    for (let i = 0; i < users; i++) {
      const { response } = await openai.chat.completions
        .create({ model, messages: [{ role: 'user', content: 'hi' }], user: `user-${i}` })
        .withResponse();
      labels.add(response.headers.get('x-aviary-model-version') ?? '?');
    }
    return labels;
  }
  /** One pass of the control plane's drift watcher, as its timer would run it. */
  const driftCheck = () => t.cp.app.get(FlagDriftWatcher).check();
  /** Runs the drift check until `fn` holds (a check finds one change; the repair is found by the next). */
  const checkUntil = <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 10_000) =>
    waitFor(
      what,
      async () => {
        await driftCheck();
        return fn();
      },
      timeoutMs,
    );
  const readyz = async () => (await (await fetch(`${router.url}/readyz`)).json()) as RouterReadyz;
  const events = async (id: string) =>
    (await t.api<{ items: Event[] }>('GET', `/api/v1/rollouts/${id}/events`)).body.items;

  /** The router serves only the baseline, degraded with `fault`, and never answers 404. */
  async function expectFailSafe(model: string, fault: string): Promise<void> {
    const degraded = await waitFor(
      `the router to notice the flag is ${fault}`,
      async () => {
        const r = await readyz();
        return r.checks.flags.degraded.some((d) => d.model === model && d.fault === fault) ? r : null;
      },
      10_000,
      20,
    );
    const metrics = await (await fetch(`${router.url}/metrics`)).text();
    expect(metrics).toContain(`aviary_router_flag_fallback{model="${model}",fault="${fault}"} 1`);
    expect(degraded.status).toBe('degraded');
    expect(degraded.checks.flags.degraded.find((d) => d.model === model)?.serving).toBe('v1');
    // Before the control plane has done anything: everyone on the baseline, no 404.
    expect([...(await served(model, 10))]).toEqual(['v1']);
  }

  /** The control plane recorded a rollback by the Unleash user and the flag is routed by again. */
  async function expectKillSwitchRecorded(model: string, id: string, kind: string): Promise<void> {
    const rolledBack = await checkUntil('the rollback by the Unleash user', async () =>
      (await events(id)).find((e) => e.type === 'RolledBack'),
    );
    expect(rolledBack).toMatchObject({
      actor: expect.stringMatching(/^unleash:/) as string,
      automatic: false,
    });
    expect(rolledBack.reason).toMatch(/kill switch in unleash means everyone on the baseline/);
    const drift = (await events(id)).find((e) => e.type === 'FlagDriftDetected');
    expect(drift?.evidence).toMatchObject({ kind, action: 'rollback-then-publish' });
    const r = await t.api<{ phase: string }>('GET', `/api/v1/rollouts/${id}`);
    expect(r.body.phase).toBe('RolledBack');
    // Published again (enabled, baseline only): the router is no longer degraded, Aviary finds it repaired.
    await waitFor(
      'the router to route by the flag again',
      async () => !(await readyz()).checks.flags.degraded.some((d) => d.model === model),
      15_000,
    );
    await checkUntil(
      'the repair to be found',
      async () => (await events(id)).some((e) => e.type === 'FlagDriftRepaired'),
      15_000,
    );
    // The repair is found from the admin API; the router sees it at its next poll of the client API.
    await waitFor(
      'the router to serve only the baseline',
      async () => [...(await served(model, 30))].join() === 'v1',
      10_000,
    );
    expect([...(await served(model, 30))]).toEqual(['v1']);
    const ready = await t.api<{ checks: { flags: { drift: { model: string }[] } } }>(
      'GET',
      '/readyz',
      undefined,
      {
        token: null,
      },
    );
    expect(ready.body.checks.flags.drift.map((d) => d.model)).not.toContain(model);
  }

  it('turning the flag’s environment off: no 404, everyone on the baseline, a rollback by that user', async () => {
    const { model, id } = await at20();
    await admin('POST', `${featurePath(model)}/environments/${ENV}/off`);
    await expectFailSafe(model, 'disabled');
    await expectKillSwitchRecorded(model, id, 'disabled');
    const metrics = await t.api<string>('GET', '/metrics', undefined, { token: null });
    expect(metrics.body).toMatch(/aviary_flag_drift_detected_total\{kind="disabled"\} [1-9]/);
  }, 90_000);

  it('archiving the flag: the same, and the flag comes back', async () => {
    const { model, id } = await at20();
    await admin('DELETE', featurePath(model));
    await expectFailSafe(model, 'missing');
    await expectKillSwitchRecorded(model, id, 'archived');
  }, 90_000);

  it('disabling only the candidate strategy is a rollback too, with an event (not silently undone)', async () => {
    const { model, id } = await at20();
    const strategy = await candidateStrategy(model);
    await admin('PUT', `${featurePath(model)}/environments/${ENV}/strategies/${strategy.id}`, {
      ...strategy,
      disabled: true,
    });
    await expectKillSwitchRecorded(model, id, 'candidate-disabled');
  }, 90_000);

  it('an edited split is found, logged and overwritten; the rollout goes on', async () => {
    const { model, id } = await at20();
    const strategy = await candidateStrategy(model);
    await admin('PUT', `${featurePath(model)}/environments/${ENV}/strategies/${strategy.id}`, {
      ...strategy,
      parameters: { ...strategy.parameters, rollout: '90' },
    });
    const drift = await checkUntil('the edit to be found', async () =>
      (await events(id)).find((e) => e.type === 'FlagDriftDetected'),
    );
    expect(drift.evidence).toMatchObject({ kind: 'edited', action: 'publish' });
    await waitFor(
      'the split to be published again',
      async () => (await candidateStrategy(model)).parameters.rollout === '20',
      10_000,
    );
    expect((await t.api<{ phase: string }>('GET', `/api/v1/rollouts/${id}`)).body.phase).toBe('Progressing');
  }, 90_000);

  it('creates long-lived flags that name the model and link the status page', async () => {
    const { model } = await at20();
    const feature = (await admin('GET', featurePath(model))) as { type: string; description: string };
    expect(feature.type).toBe('permission');
    expect(feature.description).toContain(`model "${model}"`);
    expect(feature.description).toContain(`https://aviary.example.com/status#model-${model}`);
  }, 60_000);

  it('answers 404 only for a model it never knew', async () => {
    const err = await openai.chat.completions
      .create({ model: 'never-registered', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });
});

describe('the drift watcher on its own timer (the default AVIARY_FLAG_DRIFT_CHECK_MS, 5 s)', () => {
  // The suite above runs the watcher's check by hand; this one leaves it to the timer, as in production.
  it('finds a split edited in Unleash within two polls and publishes Aviary’s again', async () => {
    const upstream = await startDemoLlm({ name: 'timer', seed: 3 });
    const t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual', UNLEASH_URL: unleash() });
    try {
      const model = `ks-timer-${Date.now().toString(36)}`;
      await t.api('POST', '/api/v1/models', { name: model });
      for (const label of ['v1', 'v2'])
        await t.api('POST', `/api/v1/models/${model}/versions`, {
          label,
          upstreamBaseUrl: upstream.url,
          upstreamModel: label,
        });
      const { body: r } = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
        model,
        candidateVersion: 'v2',
        plan: {
          steps: [
            { type: 'setWeight', weight: 20, minDurationSeconds: 3600 },
            { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
          ],
        },
      });
      expect((await t.api('POST', `/api/v1/rollouts/${r.id}/start`)).status).toBe(200);
      const strategy = await waitFor('the split in Unleash', () =>
        candidateStrategy(model).catch(() => null),
      );
      await admin('PUT', `${featurePath(model)}/environments/${ENV}/strategies/${strategy.id}`, {
        ...strategy,
        parameters: { ...strategy.parameters, rollout: '90' },
      });
      const edited = Date.now();
      const events = async () =>
        (await t.api<{ items: Event[] }>('GET', `/api/v1/rollouts/${r.id}/events`)).body.items;
      const drift = await waitFor(
        'the timer to find the edit',
        async () => (await events()).find((e) => e.type === 'FlagDriftDetected'),
        15_000,
        100,
      );
      // Two polls of 5 s, and a little for the request to Unleash and the event to be written.
      expect(Date.now() - edited).toBeLessThan(11_000);
      expect(drift.evidence).toMatchObject({ kind: 'edited', action: 'publish' });
      await waitFor(
        'the split to be published again',
        async () => (await candidateStrategy(model)).parameters.rollout === '20',
        10_000,
      );
    } finally {
      await t.close();
      await upstream.close();
    }
  }, 60_000);
});

describe('npm start with UNLEASH_URL', () => {
  it('routes from Unleash and says so', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aviary-npm-start-unleash-'));
    const started = await startEmbedded(dataDir, {
      UNLEASH_URL: unleash(),
      AVIARY_ROUTER_PORT: '0',
      AVIARY_DEMO_BASELINE_PORT: '0',
      AVIARY_DEMO_CANDIDATE_PORT: '0',
      AVIARY_DEMO_TRAFFIC: '0',
    });
    try {
      expect(started.output()).toMatch(
        new RegExp(`flags\\s+Unleash at ${unleash().replace(/[.:/]/g, '\\$&')}`),
      );
      expect(started.output()).not.toContain('built-in, polled');
      const res = await waitFor(
        'the demo model routed from Unleash',
        async () => {
          const r = await fetch(`${started.routerUrl}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'Hi' }] }),
          });
          return r.status === 200 ? r : null;
        },
        20_000,
        200,
      );
      expect(res.headers.get('x-aviary-model-version')).toBe('v1-fp16');
      // The flag it routed by is in Unleash.
      await expect(admin('GET', featurePath('demo-chat'))).resolves.toMatchObject({ type: 'permission' });
    } finally {
      expect(await stop(started)).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
