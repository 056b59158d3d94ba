import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  /** Another router of the same fleet: its own process state and backup files, the same control plane. */
  const anotherRouter = async (
    env: Record<string, string> = {},
    log?: (level: string, m: string) => void,
  ) => {
    const token = (
      await s.cp.api<{ token: string }>('POST', '/api/v1/tokens', {
        name: `router-${Math.random().toString(36).slice(2, 8)}`,
        role: 'viewer',
      })
    ).body.token;
    const router = await startRouter(
      loadRouterConfig({
        AVIARY_ROUTER_PORT: '0',
        AVIARY_FLAGS_URL: `${s.cp.url}/api`,
        AVIARY_FLAGS_TOKEN: token,
        AVIARY_FLAGS_REFRESH_MS: '100',
        AVIARY_KEYS_REFRESH_MS: '100',
        AVIARY_FLAGS_BACKUP_DIR: mkdtempSync(join(tmpdir(), 'aviary-router-keys-')),
        AVIARY_ACCESS_LOG: 'off',
        ...env,
      }),
      log ? { log } : {},
    );
    await waitFor('routing', () => router.flags.resolve(s.model, 'x') !== null);
    return router;
  };

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

  it('holds a daily token budget for all routers together, and across a restart', async () => {
    const { id, key } = await s.createKey('fleet-budget', { tokensPerDay: 150 });
    /** The tokens of an answer, or the error code of a 429. */
    const spend = async (url: string): Promise<number | string> => {
      const r = await new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 }).chat.completions
        .create({ model: s.model, messages: ask('Tell me everything about canary releases') })
        .catch((e: unknown) => e);
      if (r instanceof OpenAI.RateLimitError) return String(r.code);
      if (r instanceof Error) throw r;
      return (r as OpenAI.ChatCompletion).usage?.total_tokens ?? 0;
    };
    const other = await anotherRouter();
    try {
      // Each answer is ~40-60 tokens: this router answers until its own count passes the budget.
      for (let i = 0; i < 10 && typeof (await spend(s.router.url)) === 'number'; i++);
      // The admin list shows what the routers reported, all of them together.
      await waitFor('the key’s usage in the admin list', async () => {
        const { body } = await s.cp.api<{ items: Array<{ id: string; usedToday?: { tokens: number } }> }>(
          'GET',
          '/api/v1/router-keys',
        );
        return (body.items.find((k) => k.id === id)?.usedToday?.tokens ?? 0) >= 150;
      });
      // Once the other router has reported since (and so read the totals back)…
      const reported = Date.now();
      await waitFor('the other router’s next usage report', async () => {
        const { checks } = (await (await fetch(`${other.url}/readyz`)).json()) as {
          checks: { keyUsage: { lastReportAt: string | null } };
        };
        return Date.parse(checks.keyUsage.lastReportAt ?? '') > reported;
      });
      // …it refuses the key, which it never served: the budget is the fleet's.
      expect(await spend(other.url)).toBe('insufficient_quota');
    } finally {
      await other.close();
    }
    const restarted = await anotherRouter();
    try {
      expect(await spend(restarted.url)).toBe('insufficient_quota'); // it read the totals before serving
    } finally {
      await restarted.close();
    }
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
    const open = await anotherRouter({ AVIARY_ROUTER_AUTH: 'off' }, (level, m) => logs.push(`${level} ${m}`));
    try {
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
