import { startTcpProxy, type TcpProxy, waitFor } from '@aviary/testing';
import { ADMIN_TOKEN, seedModel, startTestControlPlane, type TestControlPlane } from './harness';

describe('when the database is unreachable', () => {
  let proxy: TcpProxy;
  let t: TestControlPlane;

  beforeAll(async () => {
    // Start once directly to get a migrated database, then put a proxy we can cut in front of it.
    const direct = await startTestControlPlane();
    const url = new URL(direct.databaseUrl);
    await direct.cp.close();
    proxy = await startTcpProxy(Number(url.port));
    url.port = String(proxy.port);
    t = await startTestControlPlane(
      { DATABASE_URL: url.toString(), AVIARY_DB_POOL_MAX: '2' },
      { keepDatabase: direct },
    );
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  it('answers 503 problem+json, reports not ready, and recovers by itself', async () => {
    const m = await seedModel(t);
    await proxy.cut();

    const ready = await t.api<{ status: string; checks: { database: { status: string } } }>(
      'GET',
      '/readyz',
      undefined,
      { token: null },
    );
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', checks: { database: { status: 'down' } } });
    expect((await t.api('GET', '/healthz', undefined, { token: null })).status).toBe(200);

    const res = await t.api('GET', `/api/v1/models/${m.name}`, undefined, { token: ADMIN_TOKEN });
    expect(res.status).toBe(503);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect(res.headers.get('retry-after')).toBe('5');

    await proxy.restore();
    await waitFor(
      'the API to recover',
      async () => (await t.api('GET', `/api/v1/models/${m.name}`)).status === 200,
      20_000,
      200,
    );
    expect((await t.api('GET', '/readyz', undefined, { token: null })).status).toBe(200);
  }, 60_000);

  it('answers readiness within about a second and the API within a few when the database host is frozen', async () => {
    const m = await seedModel(t);
    proxy.freeze();
    try {
      let started = Date.now();
      const ready = await t.api('GET', '/readyz', undefined, { token: null });
      const readyMs = Date.now() - started;
      expect(ready.status).toBe(503);
      expect(readyMs).toBeLessThan(2_000);

      started = Date.now();
      const res = await t.api('GET', `/api/v1/models/${m.name}`);
      const apiMs = Date.now() - started;
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
      expect(apiMs).toBeLessThan(15_000);
      console.log(`frozen database: /readyz answered in ${readyMs} ms, the API in ${apiMs} ms`);
    } finally {
      proxy.thaw();
    }
    await waitFor(
      'the API to recover',
      async () => (await t.api('GET', `/api/v1/models/${m.name}`)).status === 200,
      30_000,
      200,
    );
  }, 90_000);
});
