import OpenAI from 'openai';
import { waitFor } from '@aviary/testing';
import { loadRouterConfig } from '../src/config/router.config';
import { startRouter } from '../src/router';
import { startStack, type Stack } from './stack';

// Each suite starts a control plane, a router and model servers: slow on a busy machine.
jest.setTimeout(60_000);

const ask = (content: string) => [{ role: 'user' as const, content }];

describe('router API keys, through the openai SDK', () => {
  let s: Stack;
  const client = (apiKey: string) => new OpenAI({ baseURL: `${s.router.url}/v1`, apiKey, maxRetries: 0 });
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('refuses a missing or wrong key with 401, and a revoked one once the router has polled', async () => {
    const missing = await fetch(`${s.router.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: s.model, messages: ask('hi') }),
    });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({
      error: { code: 'missing_api_key', type: 'invalid_request_error' },
    });
    expect(missing.headers.get('x-aviary-request-id')).toMatch(/^avy-/);
    await expect(
      client('avr_not-a-real-key-at-all').chat.completions.create({ model: s.model, messages: ask('hi') }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const before = s.baseline.stats().requests;

    const { id, key } = await s.createKey('soon-revoked');
    expect(
      (await client(key).chat.completions.create({ model: s.model, messages: ask('hi') })).choices,
    ).toHaveLength(1);
    await s.revokeKey(id, key);
    const err = await client(key)
      .chat.completions.create({ model: s.model, messages: ask('hi') })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('invalid_api_key');
    expect(s.baseline.stats().requests).toBe(before + 1); // refused requests never reach an upstream
  });

  it('keeps a key to the models it is scoped to (403), in lists and lookups too', async () => {
    const other = `other-${s.model}`;
    await s.cp.api('POST', '/api/v1/models', { name: other });
    const { key } = await s.createKey('scoped', { models: [other] });
    const scoped = client(key);
    await expect(
      scoped.chat.completions.create({ model: s.model, messages: ask('hi') }),
    ).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    await expect(scoped.embeddings.create({ model: s.model, input: 'x' })).rejects.toBeInstanceOf(
      OpenAI.PermissionDeniedError,
    );
    await expect(scoped.models.retrieve(s.model)).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((await scoped.models.list()).data.map((m) => m.id)).not.toContain(s.model);
    expect((await s.openai.models.list()).data.map((m) => m.id)).toContain(s.model);
  });

  it('rate-limits a key per minute, and stops it at its daily token budget with insufficient_quota', async () => {
    const limited = client((await s.createKey('rpm-2', { requestsPerMinute: 2 })).key);
    await limited.chat.completions.create({ model: s.model, messages: ask('1') });
    await limited.chat.completions.create({ model: s.model, messages: ask('2') });
    const third = await limited.chat.completions
      .create({ model: s.model, messages: ask('3') })
      .catch((e: unknown) => e);
    expect(third).toBeInstanceOf(OpenAI.RateLimitError);
    expect((third as InstanceType<typeof OpenAI.APIError>).code).toBe('rate_limit_exceeded');
    expect((third as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('30');

    const budget = client((await s.createKey('small-budget', { tokensPerDay: 50 })).key);
    let answered = 0;
    let refused: unknown = null;
    for (let i = 0; i < 10 && refused === null; i++) {
      await budget.chat.completions
        .create({ model: s.model, messages: ask('Tell me everything about canary releases') })
        .then(() => answered++)
        .catch((e: unknown) => (refused = e));
    }
    expect(answered).toBeGreaterThan(0); // each answer is ~40-60 tokens: the first one or two fit
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe('insufficient_quota');
    const m = await (await fetch(`${s.router.url}/metrics`)).text();
    expect(m).toMatch(/aviary_router_auth_failures_total\{reason="budget"\} [1-9]/);
  });

  it('puts the key’s id, never the key, into outcome events', async () => {
    const { id, key } = await s.createKey('attributed');
    const { response } = await client(key)
      .chat.completions.create({ model: s.model, messages: ask('whose?') })
      .withResponse();
    const requestId = response.headers.get('x-aviary-request-id');
    await waitFor('the outcome', () => s.outcomes.find((o) => o.requestId === requestId));
    const outcome = s.outcomes.find((o) => o.requestId === requestId)!;
    expect(outcome.keyId).toBe(id);
    expect(JSON.stringify(s.outcomes)).not.toContain(key);
  });

  it('serves everyone when started with AVIARY_ROUTER_AUTH=off, and says so', async () => {
    const logs: string[] = [];
    const open = await startRouter(
      loadRouterConfig({
        AVIARY_ROUTER_PORT: '0',
        AVIARY_FLAGS_URL: `${s.cp.url}/api`,
        AVIARY_FLAGS_TOKEN: (
          await s.cp.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'open-router', role: 'viewer' })
        ).body.token,
        AVIARY_FLAGS_REFRESH_MS: '100',
        AVIARY_ROUTER_AUTH: 'off',
        AVIARY_ACCESS_LOG: 'off',
      }),
      { log: (level, m) => logs.push(`${level} ${m}`) },
    );
    try {
      await waitFor('routing', () => open.flags.resolve(s.model, 'x') !== null);
      const anyone = new OpenAI({ baseURL: `${open.url}/v1`, apiKey: 'anything', maxRetries: 0 });
      expect(
        (await anyone.chat.completions.create({ model: s.model, messages: ask('hi') })).choices,
      ).toHaveLength(1);
      expect(logs.some((l) => l.startsWith('warn') && l.includes('AVIARY_ROUTER_AUTH=off'))).toBe(true);
    } finally {
      await open.close();
    }
  });
});
