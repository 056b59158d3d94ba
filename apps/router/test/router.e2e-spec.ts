import OpenAI from 'openai';
import { waitFor } from '@aviary/testing';
import { startStack, step, type Stack } from './stack';

// Each suite starts a control plane, a router and model servers: slow on a busy machine.
jest.setTimeout(60_000);

const ask = (content: string) => [{ role: 'user' as const, content }];

describe('router: serving through the openai SDK', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('answers a JSON completion from the stable version with Aviary headers', async () => {
    const { data, response } = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('What is a canary release?') })
      .withResponse();
    expect(data.choices[0]?.message.content).toContain('Answer from baseline');
    expect(data.model).toBe('base-8b'); // the upstream's own model name was sent
    expect(response.headers.get('x-aviary-model-version')).toBe('v1');
    expect(response.headers.get('x-aviary-request-id')).toMatch(/^avy-/);
    expect(response.headers.get('server-timing')).toMatch(
      /flags;dur=[\d.]+, upstream;dur=[\d.]+;desc="first byte", total;dur=[\d.]+/,
    );
    await waitFor('the outcome event', () =>
      s.outcomes.find((o) => o.requestId === response.headers.get('x-aviary-request-id')),
    );
    const outcome = s.outcomes.find((o) => o.requestId === response.headers.get('x-aviary-request-id'))!;
    expect(outcome).toMatchObject({
      model: s.model,
      versionLabel: 'v1',
      role: 'baseline',
      status: 200,
      errorClass: null,
      refusal: false,
      empty: false,
      stream: false,
    });
    expect(outcome.completionTokens).toBeGreaterThan(0);
  });

  it('streams chunk by chunk and records the streamed answer', async () => {
    const stream = await s.openai.chat.completions.create({
      model: s.model,
      messages: ask('Stream me something'),
      stream: true,
    });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      chunks++;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toContain('Answer from baseline');
    await waitFor('the stream outcome', () =>
      s.outcomes.find((o) => o.stream && o.outputChars === text.length),
    );
  });

  it('rejects malformed requests with an OpenAI-style 400 without touching an upstream', async () => {
    const before = s.baseline.stats().requests;
    const post = (body: string) => s.post('/v1/chat/completions', body);
    const malformed = await post('{"model":');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const noMessages = await post(JSON.stringify({ model: s.model }));
    expect(await noMessages.json()).toMatchObject({ error: { param: 'messages' } });
    const badRole = await post(JSON.stringify({ model: s.model, messages: [{ content: 'x' }] }));
    expect(await badRole.json()).toMatchObject({ error: { param: 'messages[0].role' } });
    const huge = await post(JSON.stringify({ model: s.model, messages: ask('x'.repeat(2_000_000)) }));
    expect(huge.status).toBe(413);
    await expect(
      s.openai.chat.completions.create({ model: 'no-such-model', messages: ask('hi') }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(s.baseline.stats().requests).toBe(before);
  });

  it('lists routed models', async () => {
    const models = await s.openai.models.list();
    expect(models.data.map((m) => m.id)).toContain(s.model);
  });

  it('attributes feedback to the version that served the request, and rejects forged ids', async () => {
    const { response } = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('rate me') })
      .withResponse();
    const id = response.headers.get('x-aviary-request-id')!;
    const res = await s.post(
      '/v1/feedback',
      JSON.stringify({ request_id: id, rating: 'down', comment: 'wrong answer' }),
    );
    expect(res.status).toBe(202);
    await waitFor('the feedback event', () => s.feedback.find((f) => f.requestId === id));
    expect(s.feedback.find((f) => f.requestId === id)).toMatchObject({
      model: s.model,
      role: 'baseline',
      rating: 'down',
      comment: 'wrong answer',
    });
    const forged = id.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const bad = await s.post('/v1/feedback', JSON.stringify({ request_id: forged, rating: 'up' }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: 'request_id' } });
  });
});

describe('router: the split', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('sends about 20% of distinct users to the candidate, keeps them there, and keeps conversations on one version', async () => {
    const id = await s.rollout([step.weight(20), step.weight(50), step.weight(100)]);
    const users = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
    const versionOf = async (user: string, headers: Record<string, string> = {}) => {
      const { response } = await s.openai.chat.completions
        .create({ model: s.model, messages: ask('hi'), user }, { headers })
        .withResponse();
      return response.headers.get('x-aviary-model-version');
    };
    const first = new Map<string, string | null>();
    for (const u of users) first.set(u, await versionOf(u));
    const onCandidate = [...first.values()].filter((v) => v === 'v2').length / users.length;
    expect(onCandidate).toBeGreaterThan(0.15); // ±4 sd for 1,000 users: the bucket seed is per rollout
    expect(onCandidate).toBeLessThan(0.25);
    for (const u of users.slice(0, 200)) expect(await versionOf(u)).toBe(first.get(u));
    // The conversation header wins over the user: the same thread stays put whoever sends it.
    const threadVersion = await versionOf('someone', { 'x-aviary-conversation': 'thread-42' });
    for (const u of users.slice(0, 30))
      expect(await versionOf(u, { 'x-aviary-conversation': 'thread-42' })).toBe(threadVersion);

    await s.promote(id);
    const stillCandidate = users.filter((u) => first.get(u) === 'v2');
    for (const u of stillCandidate) expect(await versionOf(u)).toBe('v2');
    process.stdout.write(
      `router split: ${(onCandidate * 100).toFixed(1)}% of ${users.length} users on the candidate at 20%; all ${stillCandidate.length} kept it at 50%\n`,
    );

    await s.rollback(id);
    for (const u of stillCandidate.slice(0, 50)) expect(await versionOf(u)).toBe('v1');
  }, 120_000);
});

describe('router: failures', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(
      {
        AVIARY_UPSTREAM_MAX_CONCURRENCY: '2',
        AVIARY_UPSTREAM_MAX_QUEUE: '1',
        AVIARY_UPSTREAM_QUEUE_TIMEOUT_MS: '5000',
      },
      { baselineTimeoutMs: 800, candidateTimeoutMs: 800 },
    );
  });
  afterAll(async () => {
    await s?.close();
  });
  afterEach(() => {
    s.baseline.setBehaviour('fine');
    s.candidate.setBehaviour('fine');
  });

  it('answers from the baseline when the candidate fails, and counts it against the candidate', async () => {
    const id = await s.rollout([step.weight(100)]); // the stack's plans keep no holdback
    s.candidate.setBehaviour({ errorRate: 1 });
    const { data, response } = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('help'), user: 'u1' })
      .withResponse();
    expect(data.choices[0]?.message.content).toContain('Answer from baseline');
    expect(response.headers.get('x-aviary-model-version')).toBe('v1');
    const requestId = response.headers.get('x-aviary-request-id')!;
    await waitFor('both outcomes', () => s.outcomes.filter((o) => o.requestId === requestId).length === 2);
    const events = s.outcomes.filter((o) => o.requestId === requestId);
    expect(events.find((o) => o.role === 'candidate')).toMatchObject({
      errorClass: 'upstream_5xx',
      fellBack: true,
      status: 500,
    });
    expect(events.find((o) => o.role === 'baseline')).toMatchObject({
      errorClass: null,
      fellBack: true,
      status: 200,
    });
    await s.rollback(id);
  });

  it('maps upstream failures to 502 and timeouts to 504 with OpenAI-style bodies', async () => {
    s.baseline.setBehaviour({ errorRate: 1 });
    const err = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('x') })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    s.baseline.setBehaviour({ errorRate: 0, hangRate: 1 });
    const started = Date.now();
    const timeout = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('y') })
      .catch((e: unknown) => e);
    expect((timeout as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3000);
    s.baseline.setBehaviour({ hangRate: 0, connectionDropRate: 1 });
    const dropped = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('z') })
      .catch((e: unknown) => e);
    expect((dropped as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
  });

  it('queues up to the limit, then answers 429 with Retry-After', async () => {
    s.baseline.setBehaviour({ latencyMs: 400 });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        s.post('/v1/chat/completions', JSON.stringify({ model: s.model, messages: ask(`burst ${i}`) })),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((x) => x === 200)).toHaveLength(3); // 2 in flight + 1 queued
    expect(statuses.filter((x) => x === 429)).toHaveLength(3);
    const shed = results.find((r) => r.status === 429)!;
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(await shed.json()).toMatchObject({
      error: { type: 'rate_limit_error', code: 'upstream_saturated' },
    });
  });

  it('aborts the upstream call when the client goes away mid-stream', async () => {
    s.baseline.setBehaviour({ tokensPerSecond: 20 });
    const controller = new AbortController();
    const stream = await s.openai.chat.completions.create(
      { model: s.model, messages: ask('a long story please'), stream: true },
      { signal: controller.signal },
    );
    const aborted = s.baseline.stats().byOutcome.aborted;
    for await (const _chunk of stream) {
      controller.abort();
      break;
    }
    await waitFor(
      'the upstream to see the abort',
      () => s.baseline.stats().byOutcome.aborted > aborted,
      5000,
    );
  });

  it('aborts the upstream call when the client goes away before the first byte', async () => {
    s.baseline.setBehaviour({ latencyMs: 3000 });
    const controller = new AbortController();
    const aborted = s.baseline.stats().byOutcome.aborted;
    const outcomes = s.outcomes.length;
    const asked = s.openai.chat.completions
      .create({ model: s.model, messages: ask('slow one') }, { signal: controller.signal, maxRetries: 0 })
      .catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 300);
    expect(await asked).toBeInstanceOf(Error);
    await waitFor(
      'the upstream to see the abort',
      () => s.baseline.stats().byOutcome.aborted > aborted,
      2000,
    );
    await waitFor('the outcome', () => s.outcomes.length > outcomes, 5000);
    expect(s.outcomes.slice(outcomes).map((o) => o.errorClass)).toContain('client_aborted');
  });
});

describe('router: shadow', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ AVIARY_SHADOW_MAX_CONCURRENCY: '4' });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('mirrors baseline traffic to the candidate, never serves it, and streams both outputs as pairs', async () => {
    await s.rollout([step.shadow(1), step.weight(100)]);
    const before = s.candidate.stats().requests;
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { data, response } = await s.openai.chat.completions
        .create({ model: s.model, messages: ask(`question ${i}`), user: `u${i}` })
        .withResponse();
      expect(data.choices[0]?.message.content).toContain('Answer from baseline');
      expect(response.headers.get('x-aviary-model-version')).toBe('v1');
      ids.push(response.headers.get('x-aviary-request-id')!);
    }
    const stream = await s.openai.chat.completions.create({
      model: s.model,
      messages: ask('streamed question'),
      stream: true,
    });
    for await (const _ of stream) {
      // drain
    }
    await waitFor('pairs for every request', () => s.pairs.length >= 11, 5000);
    expect(s.candidate.stats().requests - before).toBe(11);
    const pair = s.pairs.find((p) => p.requestId === ids[0])!;
    expect(pair.baseline.output).toContain('Answer from baseline');
    expect(pair.shadow.output).toContain('Answer from candidate');
    expect(pair.prompt).toEqual([{ role: 'user', content: 'question 0' }]);
    expect(s.outcomes.filter((o) => o.role === 'shadow')).toHaveLength(11);
  });

  it('keeps the primary fast when the shadow is slow, and sheds shadow copies beyond its cap', async () => {
    s.candidate.setBehaviour({ latencyMs: 1500 });
    const started = Date.now();
    const latencies: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const t = Date.now();
        await s.openai.chat.completions.create({ model: s.model, messages: ask(`slow shadow ${i}`) });
        latencies.push(Date.now() - t);
      }),
    );
    expect(Math.max(...latencies)).toBeLessThan(1000);
    expect(Date.now() - started).toBeLessThan(1500);
    const metrics = await (await fetch(`${s.router.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`aviary_router_shadow_shed_total\\{model="${s.model}"\\} ([1-9]\\d*)`),
    );
    s.candidate.setBehaviour('fine');
  });
});

describe('router: evidence in metrics', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('counts refusals, empty answers and broken JSON per version and role', async () => {
    s.baseline.setBehaviour({ refusalRate: 1 });
    await s.openai.chat.completions.create({ model: s.model, messages: ask('refuse me') });
    s.baseline.setBehaviour({ refusalRate: 0, emptyRate: 1 });
    await s.openai.chat.completions.create({ model: s.model, messages: ask('nothing') });
    s.baseline.setBehaviour({ emptyRate: 0, brokenJsonRate: 1 });
    await s.openai.chat.completions.create({
      model: s.model,
      messages: ask('json please'),
      response_format: { type: 'json_object' },
    });
    s.baseline.setBehaviour('fine');
    await s.openai.chat.completions.create({
      model: s.model,
      messages: ask('json please'),
      response_format: { type: 'json_object' },
    });
    const m = await (await fetch(`${s.router.url}/metrics`)).text();
    const labels = `model="${s.model}",version="v1",role="baseline"`;
    expect(m).toContain(`aviary_router_refusals_total{${labels}} 1`);
    expect(m).toContain(`aviary_router_empty_outputs_total{${labels}} 1`);
    expect(m).toContain(`aviary_router_json_requests_total{${labels}} 2`);
    expect(m).toContain(`aviary_router_invalid_json_total{${labels}} 1`);
    expect(m).toMatch(
      new RegExp(
        `aviary_router_time_to_first_token_seconds_count\\{${labels},endpoint="chat.completions"\\} 4`,
      ),
    );
    expect(m).toMatch(
      new RegExp(
        `aviary_router_tokens_total\\{${labels},endpoint="chat.completions",direction="out"\\} \\d+`,
      ),
    );
  });
});
