import { destroyUnleashClient } from '@aviary/flags';
import type { Unleash } from 'unleash-client';
import { candidateUsers, heldRevision, startUnleashClient, users, waitFor } from '@aviary/testing';
import { seedModel, startTestControlPlane, type TestControlPlane } from './harness';

const plan = {
  steps: [
    { type: 'setWeight', weight: 20, minDurationSeconds: 3600 },
    { type: 'setWeight', weight: 50, minDurationSeconds: 3600 },
    { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
  ],
};

describe('built-in flag source', () => {
  let t: TestControlPlane;
  let client: Unleash;
  let routerToken: string;

  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual' });
    routerToken = (
      await t.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'router', role: 'viewer' })
    ).body.token;
    client = await startUnleashClient({ url: `${t.url}/api`, token: routerToken, refreshIntervalMs: 100 });
  });
  afterAll(async () => {
    if (client) destroyUnleashClient(client);
    await t?.close();
  });

  it('splits real unleash-client users 20% to the candidate and keeps them there at 50%', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan,
    });
    const started = await t.api<{ version: number }>('POST', `/api/v1/rollouts/${r.id}/start`);
    expect(started.status).toBe(200);
    const keys = users(10_000);

    await waitFor(
      'client to see the 20% split',
      () => candidateUsers(client, m.name, keys.slice(0, 200)).size > 0,
    );
    const at20 = candidateUsers(client, m.name, keys);
    const share20 = at20.size / keys.length;
    expect(share20).toBeGreaterThan(0.185);
    expect(share20).toBeLessThan(0.215);

    const revisionAt20 = heldRevision(client, m.name)!;
    await t.api('POST', `/api/v1/rollouts/${r.id}/promote`);
    await waitFor('client to see the 50% split', () => (heldRevision(client, m.name) ?? 0) > revisionAt20);
    const at50 = candidateUsers(client, m.name, keys);
    expect(at50.size / keys.length).toBeGreaterThan(0.485);
    expect(at50.size / keys.length).toBeLessThan(0.515);
    const kept = [...at20].filter((u) => at50.has(u)).length;
    expect(kept).toBe(at20.size);
    process.stdout.write(
      `built-in flags: candidate share at 20% = ${(share20 * 100).toFixed(2)}%, at 50% = ${((at50.size / keys.length) * 100).toFixed(2)}%, kept ${kept}/${at20.size}\n`,
    );

    await t.api('POST', `/api/v1/rollouts/${r.id}/rollback`, { reason: 'test' });
    await waitFor(
      'client to see the rollback',
      () => candidateUsers(client, m.name, keys.slice(0, 2000)).size === 0,
    );
  });

  it('routes to the stable version when a model has no rollout', async () => {
    const m = await seedModel(t);
    await waitFor('client to see the model', () => heldRevision(client, m.name) !== null);
    expect(candidateUsers(client, m.name, users(1000)).size).toBe(0);
  });

  it('answers 304 to an unchanged poll and needs a token', async () => {
    const first = await fetch(`${t.url}/api/client/features`, { headers: { authorization: routerToken } });
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    const again = await fetch(`${t.url}/api/client/features`, {
      headers: { authorization: routerToken, 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    expect((await fetch(`${t.url}/api/client/features`)).status).toBe(401);
  });
});
