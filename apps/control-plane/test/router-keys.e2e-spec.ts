import { createHash } from 'node:crypto';
import { seedModel, startTestControlPlane, type TestControlPlane } from './harness';

jest.setTimeout(60_000);

interface KeyView {
  id: string;
  name: string;
  prefix: string;
  key?: string;
  models: string[] | null;
  requestsPerMinute: number | null;
  tokensPerDay: number | null;
  revokedAt: string | null;
}

describe('router keys admin API', () => {
  let t: TestControlPlane;
  let model: string;
  beforeAll(async () => {
    t = await startTestControlPlane();
    model = (await seedModel(t)).name;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates a key shown once, lists it without its value, publishes only its hash, and revokes it', async () => {
    const created = await t.api<KeyView>('POST', '/api/v1/router-keys', {
      name: 'mobile-app',
      models: [model],
      requestsPerMinute: 600,
      tokensPerDay: 2_000_000,
    });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^avr_[\w-]{32}$/);
    expect(created.body).toMatchObject({
      name: 'mobile-app',
      models: [model],
      requestsPerMinute: 600,
      tokensPerDay: 2_000_000,
    });
    const key = created.body.key!;

    const list = await t.api<{ items: KeyView[] }>('GET', '/api/v1/router-keys');
    expect(list.body.items.find((k) => k.id === created.body.id)).toEqual(
      expect.not.objectContaining({ key: expect.anything() as unknown }),
    );
    expect(JSON.stringify(list.body)).not.toContain(key);

    const viewer = await t.api<{ token: string }>('POST', '/api/v1/tokens', {
      name: 'router-r1',
      role: 'viewer',
    });
    const feed = await t.api<{ keys: Array<{ id: string; hash: string; models: string[] | null }> }>(
      'GET',
      '/api/router/keys',
      undefined,
      { token: viewer.body.token },
    );
    expect(feed.status).toBe(200);
    const published = feed.body.keys.find((k) => k.id === created.body.id);
    expect(published?.hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(JSON.stringify(feed.body)).not.toContain(key);
    const again = await t.api('GET', '/api/router/keys', undefined, {
      token: viewer.body.token,
      headers: { 'if-none-match': feed.headers.get('etag')! },
    });
    expect(again.status).toBe(304);

    const revoked = await t.api<KeyView>('DELETE', `/api/v1/router-keys/${created.body.id}`);
    expect(revoked.body.revokedAt).not.toBeNull();
    const after = await t.api<{ keys: Array<{ id: string }> }>('GET', '/api/router/keys', undefined, {
      token: viewer.body.token,
    });
    expect(after.body.keys.map((k) => k.id)).not.toContain(created.body.id);
  });

  it.each([
    [{ name: '' }, 'name'],
    [{ name: 'x', models: [] }, 'models'],
    [{ name: 'x', models: ['Not A Model'] }, 'models[0]'],
    [{ name: 'x', requestsPerMinute: 0 }, 'requestsPerMinute'],
    [{ name: 'x', tokensPerDay: 1.5 }, 'tokensPerDay'],
    [{ name: 'x', surprise: true }, 'surprise'],
    [{ name: 'x', models: ['no-such-model'] }, 'models[0]'],
  ])('refuses %j with a 400 naming %s', async (body, field) => {
    const res = await t.api<{ errors: Array<{ field: string }> }>('POST', '/api/v1/router-keys', body);
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body.errors.map((e) => e.field)).toContain(field);
  });

  it('needs the admin role to manage keys, and a token to read the feed', async () => {
    const op = await t.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'op-1', role: 'operator' });
    expect((await t.api('POST', '/api/v1/router-keys', { name: 'y' }, { token: op.body.token })).status).toBe(
      403,
    );
    expect((await t.api('GET', '/api/router/keys', undefined, { token: null })).status).toBe(401);
    expect((await t.api('POST', '/api/v1/router-keys', { name: 'dup' })).status).toBe(201);
    expect((await t.api('POST', '/api/v1/router-keys', { name: 'dup' })).status).toBe(409);
    expect((await t.api('DELETE', '/api/v1/router-keys/not-a-uuid')).status).toBe(404);
  });

  it('sums every router’s usage reports per key and UTC day, counting a retried report once', async () => {
    const { body: k } = await t.api<KeyView>('POST', '/api/v1/router-keys', {
      name: 'fleet-app',
      tokensPerDay: 1000,
    });
    const router = await t.api<{ token: string }>('POST', '/api/v1/tokens', {
      name: 'router-u',
      role: 'viewer',
    });
    const day = new Date().toISOString().slice(0, 10);
    const report = (reportId: string, tokens: number, keyId = k.id) =>
      t.api<{ day: string; counted: boolean; usage: Record<string, { tokens: number; requests: number }> }>(
        'POST',
        '/api/router/key-usage',
        { reportId, usage: [{ keyId, day, tokens, requests: 2 }] },
        { token: router.body.token },
      );
    const first = await report('11111111-1111-4111-8111-111111111111', 300);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ day, counted: true, usage: { [k.id]: { tokens: 300, requests: 2 } } });
    // Another router, then the first router's report again (its answer was lost): counted once.
    await report('22222222-2222-4222-8222-222222222222', 120);
    const again = await report('11111111-1111-4111-8111-111111111111', 300);
    expect(again.body).toMatchObject({ counted: false, usage: { [k.id]: { tokens: 420, requests: 4 } } });
    // A key deleted or never known: dropped, not an error (the router cannot know).
    const unknown = await report(
      '33333333-3333-4333-8333-333333333333',
      5,
      '00000000-0000-4000-8000-00000000dead',
    );
    expect(unknown.status).toBe(200);
    expect(unknown.body.usage['00000000-0000-4000-8000-00000000dead']).toBeUndefined();

    const list = await t.api<{ items: Array<KeyView & { usedToday: { day: string; tokens: number } }> }>(
      'GET',
      '/api/v1/router-keys',
    );
    expect(list.body.items.find((x) => x.id === k.id)?.usedToday).toEqual({ day, tokens: 420, requests: 4 });
    expect(
      (await t.api('POST', '/api/router/key-usage', { reportId: k.id, usage: [] }, { token: null })).status,
    ).toBe(401);
  });
});
