import { destroyUnleashClient } from '@aviary/flags';
import type { Unleash } from 'unleash-client';
import {
  candidateUsers,
  heldRevision,
  startTcpProxy,
  startUnleashClient,
  type TcpProxy,
  testUnleashUrl,
  users,
  waitFor,
} from '@aviary/testing';
import { seedModel, startTestControlPlane, type TestControlPlane } from './harness';

const plan = {
  steps: [
    { type: 'setWeight', weight: 20, minDurationSeconds: 3600 },
    { type: 'setWeight', weight: 50, minDurationSeconds: 3600 },
    { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
  ],
};

const unleashUrl = testUnleashUrl;

type Readyz = {
  status: string;
  checks: { flags: { status: string; failing: Array<{ model: string; failures: number }> } };
};

describe('publishing splits to a real unleash-server', () => {
  let proxy: TcpProxy;
  let t: TestControlPlane;
  let client: Unleash;

  beforeAll(async () => {
    const target = new URL(unleashUrl());
    // The control plane reaches Unleash through a proxy the test can cut; routers read Unleash directly.
    proxy = await startTcpProxy(Number(target.port));
    t = await startTestControlPlane({
      AVIARY_ANALYSIS: 'manual',
      UNLEASH_URL: proxy.url,
      UNLEASH_TIMEOUT_MS: '2000',
    });
    client = await startUnleashClient({ url: `${unleashUrl()}/api`, refreshIntervalMs: 100 });
  });
  afterAll(async () => {
    if (client) destroyUnleashClient(client);
    await t?.close();
    await proxy?.close();
  });

  it('moves real unleash-client users as the rollout moves', async () => {
    const m = await seedModel(t, `unl-${Date.now().toString(36)}`);
    await waitFor('the baseline flag', () => heldRevision(client, m.name) !== null, 15_000);
    const { body: r } = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan,
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    const keys = users(10_000);
    await waitFor('the 20% split', () => candidateUsers(client, m.name, keys.slice(0, 500)).size > 0, 15_000);
    const at20 = candidateUsers(client, m.name, keys);
    expect(at20.size / keys.length).toBeGreaterThan(0.185);
    expect(at20.size / keys.length).toBeLessThan(0.215);
    const rev = heldRevision(client, m.name)!;
    await t.api('POST', `/api/v1/rollouts/${r.id}/promote`);
    await waitFor('the 50% split', () => (heldRevision(client, m.name) ?? 0) > rev, 15_000);
    const at50 = candidateUsers(client, m.name, keys);
    expect([...at20].every((u) => at50.has(u))).toBe(true);
    process.stdout.write(
      `unleash: candidate share at 20% = ${((at20.size / keys.length) * 100).toFixed(2)}%, at 50% = ${((at50.size / keys.length) * 100).toFixed(2)}%\n`,
    );
    await t.api('POST', `/api/v1/rollouts/${r.id}/rollback`, { reason: 'done' });
    await waitFor(
      'the rollback',
      () => candidateUsers(client, m.name, keys.slice(0, 2000)).size === 0,
      15_000,
    );
  }, 60_000);

  it('keeps the API working while Unleash is down, shows it, and catches up when it is back', async () => {
    const m = await seedModel(t, `down-${Date.now().toString(36)}`);
    const { body: r } = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan,
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    const keys = users(2000);
    await waitFor('the 20% split', () => candidateUsers(client, m.name, keys).size > 0, 15_000);
    const before = candidateUsers(client, m.name, keys).size;

    await proxy.cut();
    const rolledBack = await t.api<{ phase: string }>('POST', `/api/v1/rollouts/${r.id}/rollback`, {
      reason: 'while unleash is down',
    });
    expect(rolledBack.status).toBe(200);
    expect(rolledBack.body.phase).toBe('RolledBack'); // the database is the source of truth

    const ready = await waitFor('readiness to show the failing publish', async () => {
      const res = await t.api<Readyz>('GET', '/readyz', undefined, { token: null });
      return res.body.checks.flags.status === 'failing' ? res : null;
    });
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.checks.flags.failing.map((f) => f.model)).toContain(m.name);
    const metrics = await t.api<string>('GET', '/metrics', undefined, { token: null });
    expect(metrics.body).toMatch(/aviary_flag_publish_total\{publisher="unleash",outcome="failure"\} [1-9]/);
    const events = await t.api<{ items: Array<{ type: string }> }>('GET', `/api/v1/rollouts/${r.id}/events`);
    expect(events.body.items.filter((e) => e.type === 'FlagPublishFailed')).toHaveLength(1);
    // Routers keep the last split they had.
    expect(candidateUsers(client, m.name, keys).size).toBe(before);

    await proxy.restore();
    await waitFor(
      'routers to get the rollback',
      () => candidateUsers(client, m.name, keys).size === 0,
      15_000,
    );
    await waitFor(
      'readiness to recover',
      async () => (await t.api<Readyz>('GET', '/readyz', undefined, { token: null })).body.status === 'ok',
    );
    const after = await t.api<{ items: Array<{ type: string }> }>('GET', `/api/v1/rollouts/${r.id}/events`);
    expect(after.body.items.map((e) => e.type)).toEqual(
      expect.arrayContaining(['FlagPublishFailed', 'FlagPublishRecovered']),
    );
  }, 60_000);
});
