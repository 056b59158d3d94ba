import { destroyUnleashClient } from '@aviary/flags';
import type { Unleash } from 'unleash-client';
import { startUnleashClient, waitFor } from '@aviary/testing';
import { startTestControlPlane, type TestControlPlane } from './harness';

interface Version {
  id: string;
  label: string;
  prices: { currency: string; inputPerMillionTokens: number; outputPerMillionTokens: number } | null;
}
interface Problem {
  code: string;
  errors: { field: string; message: string }[];
}

/** The prices routers read from the model's published flag (the baseline variant's target). */
function publishedPrices(client: Unleash, model: string): unknown {
  const variant = client.getVariant(`aviary.model.${model}`, { userId: 'u-1' });
  if (!variant.payload) return 'not published';
  const payload = JSON.parse(variant.payload.value) as { target: { prices?: unknown } };
  return payload.target.prices ?? null;
}

describe('version prices', () => {
  let t: TestControlPlane;
  let operator: string;
  let client: Unleash;

  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual' });
    operator = (await t.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'ops', role: 'operator' }))
      .body.token;
    const viewer = (await t.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'rt', role: 'viewer' }))
      .body.token;
    client = await startUnleashClient({ url: `${t.url}/api`, token: viewer, refreshIntervalMs: 100 });
  });
  afterAll(async () => {
    if (client) destroyUnleashClient(client);
    await t?.close();
  });

  const version = (model: string, body: Record<string, unknown>) =>
    t.api<Version & Problem>(
      'POST',
      `/api/v1/models/${model}/versions`,
      { upstreamBaseUrl: 'http://127.0.0.1:9/v1', upstreamModel: 'm', ...body },
      { token: operator },
    );

  it('keeps the prices a version is registered with, in USD, and shows them in GET', async () => {
    await t.api('POST', '/api/v1/models', { name: 'priced' });
    const created = await version('priced', {
      label: 'v1',
      prices: { inputPerMillionTokens: 0.15, outputPerMillionTokens: 0.6 },
    });
    expect(created.status).toBe(201);
    const expected = { currency: 'USD', inputPerMillionTokens: 0.15, outputPerMillionTokens: 0.6 };
    expect(created.body.prices).toEqual(expected);
    expect((await t.api<Version>('GET', '/api/v1/models/priced/versions/v1')).body.prices).toEqual(expected);
    const unpriced = await version('priced', { label: 'v2' });
    expect(unpriced.body.prices).toBeNull();
  });

  it('changes the prices of a serving version, republishes them to routers and records who did it', async () => {
    await t.api('POST', '/api/v1/models', { name: 'repriced' });
    await version('repriced', {
      label: 'v1',
      prices: { inputPerMillionTokens: 1, outputPerMillionTokens: 2 },
    });
    await waitFor('routers to see the first prices', () => {
      const p = publishedPrices(client, 'repriced') as { outputUsdPerMTok?: number } | null;
      return p !== null && typeof p === 'object' && p.outputUsdPerMTok === 2;
    });

    const put = await t.api<Version>(
      'PUT',
      '/api/v1/models/repriced/versions/v1/prices',
      { currency: 'USD', inputPerMillionTokens: 1, outputPerMillionTokens: 3.5 },
      { token: operator },
    );
    expect(put.status).toBe(200);
    expect(put.body.prices).toEqual({
      currency: 'USD',
      inputPerMillionTokens: 1,
      outputPerMillionTokens: 3.5,
    });
    await waitFor('routers to see the new prices', () => {
      const p = publishedPrices(client, 'repriced') as { outputUsdPerMTok?: number } | null;
      return p !== null && typeof p === 'object' && p.outputUsdPerMTok === 3.5;
    });

    const cleared = await t.api<Version>('DELETE', '/api/v1/models/repriced/versions/v1/prices', undefined, {
      token: operator,
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.prices).toBeNull();
    await waitFor('routers to see no prices', () => publishedPrices(client, 'repriced') === null);

    const audit = await t.api<{
      items: { action: string; target: string; actor: string; details: unknown }[];
    }>('GET', '/api/v1/audit');
    const mine = audit.body.items.filter((e) => e.target === 'repriced/v1');
    expect(mine.map((e) => [e.action, e.actor])).toEqual([
      ['version.prices_cleared', 'ops'],
      ['version.prices_set', 'ops'],
      ['version.created', 'ops'],
    ]);
    expect(mine[1]?.details).toMatchObject({
      before: { inputPerMillionTokens: 1, outputPerMillionTokens: 2 },
      after: { inputPerMillionTokens: 1, outputPerMillionTokens: 3.5 },
    });
  });

  it.each([
    { body: { inputPerMillionTokens: -1, outputPerMillionTokens: 1 }, field: 'inputPerMillionTokens' },
    { body: { inputPerMillionTokens: 1, outputPerMillionTokens: '2' }, field: 'outputPerMillionTokens' },
    { body: { inputPerMillionTokens: 1 }, field: 'outputPerMillionTokens' },
    {
      body: { currency: 'EUR', inputPerMillionTokens: 1, outputPerMillionTokens: 1 },
      field: 'currency',
      message: /USD/,
    },
    { body: { inputPerMillionTokens: 1, outputPerMillionTokens: 1, perRequest: 0.01 }, field: 'perRequest' },
  ])('answers 400 naming the field for prices $body', async ({ body, field, message }) => {
    await t.api('POST', '/api/v1/models', { name: 'bad-prices' });
    const put = await t.api<Problem>('PUT', '/api/v1/models/bad-prices/versions/none/prices', body, {
      token: operator,
    });
    expect(put.status).toBe(400);
    expect(put.contentType).toContain('application/problem+json');
    expect(put.body.errors[0]?.field).toBe(field);
    if (message) expect(put.body.errors[0]?.message).toMatch(message);
    const created = await version('bad-prices', {
      label: `v-${Math.random().toString(36).slice(2, 8)}`,
      prices: body,
    });
    expect(created.status).toBe(400);
    expect(created.body.errors[0]?.field).toBe(`prices.${field}`);
  });

  it('answers 404 for prices of a version that does not exist, and 403 to a viewer', async () => {
    await t.api('POST', '/api/v1/models', { name: 'no-such' });
    const body = { inputPerMillionTokens: 1, outputPerMillionTokens: 1 };
    expect((await t.api('PUT', '/api/v1/models/no-such/versions/v9/prices', body)).status).toBe(404);
    const viewer = (await t.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'v', role: 'viewer' }))
      .body.token;
    expect(
      (await t.api('PUT', '/api/v1/models/no-such/versions/v9/prices', body, { token: viewer })).status,
    ).toBe(403);
  });
});
