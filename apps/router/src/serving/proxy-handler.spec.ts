import { chatCompletions } from '../endpoints/chat-completions';
import type { EndpointAdapter, ProxiedRequest } from '../endpoints/endpoint';
import { QueueFullError } from '../upstream/concurrency-limiter';
import { UpstreamError } from '../upstream/upstream-client';
import { responses } from '../endpoints/responses';
import { CONVERSATION_PREFIX, RESPONSE_PREFIX, ThreadTags } from '../threads/thread-tags';
import {
  answer,
  chatAnswer,
  routerKey,
  routing,
  startProxyRig,
  target,
  type ProxyRig,
} from '../../test/proxy-fakes';
import { forEndpoint, ProxyHandler } from './proxy-handler';

const CHAT = '/v1/chat/completions';
const ask = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'm',
  messages: [{ role: 'user', content }],
  ...extra,
});
const endpoints = { [CHAT]: chatCompletions as unknown as EndpointAdapter<ProxiedRequest> };

describe(ProxyHandler.name, () => {
  let rig: ProxyRig;
  beforeEach(async () => {
    rig = await startProxyRig(endpoints);
  });
  afterEach(async () => {
    await rig.close();
  });

  it('forwards with the upstream model name and answers with the version, role and a request id', async () => {
    rig.upstream.on('v1', () => answer(200, chatAnswer('Hello there')));
    const res = await rig.post(CHAT, ask('hi', { temperature: 0.2 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ choices: [{ message: { content: 'Hello there' } }] });
    expect(res.headers.get('x-aviary-model-version')).toBe('v1');
    expect(res.headers.get('x-aviary-role')).toBe('baseline');
    const id = res.headers.get('x-aviary-request-id')!;
    expect(rig.ids.verify(id)).toMatchObject({
      model: 'm',
      versionLabel: 'v1',
      role: 'baseline',
      revision: 3,
    });
    expect(rig.upstream.calls).toEqual([
      {
        target: rig.routing!.target,
        path: '/chat/completions',
        payload: { ...ask('hi', { temperature: 0.2 }), model: 'v1-model' },
      },
    ]);
    await rig.settle();
    expect(rig.events.outcomes).toEqual([
      expect.objectContaining({
        requestId: id,
        role: 'baseline',
        status: 200,
        errorClass: null,
        fellBack: false,
        promptTokens: 7,
        completionTokens: 3,
        outputChars: 'Hello there'.length,
        stream: false,
      }),
    ]);
  });

  it('answers a failing candidate from the baseline once, and records both under one request id', async () => {
    rig.routing = routing({ role: 'candidate', target: target('v2'), fallback: target('v1') });
    rig.upstream
      .on('v2', () => answer(500, '{"error":{}}'))
      .on('v1', () => answer(200, chatAnswer('from the baseline')));
    const res = await rig.post(CHAT, ask('hi'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-aviary-model-version')).toBe('v1');
    expect(res.headers.get('x-aviary-role')).toBe('baseline');
    await rig.settle();
    const id = res.headers.get('x-aviary-request-id');
    expect(rig.events.outcomes.map((o) => [o.requestId === id, o.role, o.errorClass, o.fellBack])).toEqual([
      [true, 'baseline', null, true],
      [true, 'candidate', 'upstream_5xx', true],
    ]);
  });

  it.each([
    ['an unreachable upstream', new UpstreamError('connect', 'ECONNREFUSED'), 502, 'upstream_unreachable'],
    ['a timeout', new UpstreamError('timeout', 'slow'), 504, 'upstream_timeout'],
    ['a 503', new UpstreamError('upstream_5xx', 'x', 503), 503, 'upstream_error'],
  ])('maps %s to %i in OpenAI’s shape and records the failure', async (_name, err, status, code) => {
    rig.upstream.on('v1', () => Promise.reject(err));
    const res = await rig.post(CHAT, ask('hi'));
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error: { code, type: expect.any(String) as string } });
    await rig.settle();
    expect(rig.events.outcomes).toEqual([
      expect.objectContaining({ errorClass: err.errorClass, role: 'baseline' }),
    ]);
  });

  it('answers 429 with Retry-After when the upstream queue is full, and counts it as shed', async () => {
    rig.upstream.on('v1', () => Promise.reject(new QueueFullError('queue-full')));
    const res = await rig.post(CHAT, ask('hi'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    await rig.settle();
    expect(rig.events.outcomes[0]).toMatchObject({ errorClass: 'shed', status: 429 });
  });

  it('limits each user to the per-minute budget and keeps no bucket for requests without a user', async () => {
    await rig.close();
    rig = await startProxyRig(endpoints, { rateLimitPerMinute: 2 });
    rig.upstream.on('v1', () => answer(200, chatAnswer('ok')));
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await rig.post(CHAT, ask('hi', { user: 'alice' }))).status);
    expect(statuses).toEqual([200, 200, 429]);
    expect(rig.rateLimiter.size).toBe(1);
    // Without a user or conversation every request is its own key: nothing to limit, nothing kept.
    for (let i = 0; i < 3; i++) expect((await rig.post(CHAT, ask('hi'))).status).toBe(200);
    expect(rig.rateLimiter.size).toBe(1);
  });

  it('passes an upstream 4xx on as it came and records it as upstream_4xx', async () => {
    rig.upstream.on('v1', () => answer(400, '{"error":{"message":"bad temperature","param":"temperature"}}'));
    const res = await rig.post(CHAT, ask('hi'));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { message: 'bad temperature', param: 'temperature' } });
    await rig.settle();
    expect(rig.events.outcomes[0]).toMatchObject({ errorClass: 'upstream_4xx', status: 400 });
  });

  it('pipes a stream chunk by chunk and records what was streamed', async () => {
    const chunk = (content: string) =>
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;
    rig.upstream.on('v1', () =>
      answer(200, [chunk('Hel'), chunk('lo'), 'data: [DONE]\n\n'], 'text/event-stream'),
    );
    const res = await rig.post(CHAT, ask('hi', { stream: true }));
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(await res.text()).toBe(chunk('Hel') + chunk('lo') + 'data: [DONE]\n\n');
    await rig.settle();
    expect(rig.events.outcomes[0]).toMatchObject({ stream: true, errorClass: null, outputChars: 5 });
  });

  it('records a stream the upstream cut off as the upstream’s failure, not the client’s', async () => {
    const chunk = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'Hi' } }] })}\n\n`;
    rig.upstream.on('v1', () =>
      answer(200, [chunk, chunk], 'text/event-stream', { failAfter: new UpstreamError('connect', 'reset') }),
    );
    await rig
      .post(CHAT, ask('hi', { stream: true }))
      .then((r) => r.text())
      .catch(() => null);
    await rig.settle();
    expect(rig.events.outcomes[0]).toMatchObject({ stream: true, errorClass: 'connect' });
  });

  it('turns bad requests away with a 400 naming the parameter, without calling an upstream', async () => {
    const res = await rig.post(CHAT, { model: 'm', messages: [{ content: 'no role' }] });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-aviary-request-id')).toMatch(/^avy-[\w-]{12}$/);
    expect(await res.json()).toMatchObject({
      error: { type: 'invalid_request_error', param: 'messages[0].role' },
    });
    expect(rig.upstream.calls).toHaveLength(0);
  });

  it('answers 404 model_not_found for a model without routing', async () => {
    rig.routing = null;
    const res = await rig.post(CHAT, ask('hi'));
    expect(res.status).toBe(404);
    expect(res.headers.get('x-aviary-request-id')).toMatch(/^avy-/);
    expect(await res.json()).toMatchObject({ error: { code: 'model_not_found', param: 'model' } });
  });

  it('shadows a streamed request as a stream, asking for usage, and measures the copy’s first token', async () => {
    rig.routing = routing({ shadow: { target: target('v2'), sampleRate: 1 } });
    const chunk = (content: string) =>
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;
    rig.upstream
      .on('v1', () => answer(200, [chunk('a'), chunk('b'), 'data: [DONE]\n\n'], 'text/event-stream'))
      .on('v2', () => answer(200, [chunk('c'), chunk('d'), 'data: [DONE]\n\n'], 'text/event-stream'));
    await (await rig.post(CHAT, ask('hi', { stream: true }))).text();
    for (let i = 0; i < 20 && rig.events.pairs.length === 0; i++) await rig.settle();
    expect(rig.upstream.calls[1]?.payload).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
      model: 'v2-model',
    });
    expect(rig.events.outcomes[1]).toMatchObject({ role: 'shadow', stream: true, outputChars: 2 });
    expect(rig.events.outcomes[1]?.ttftMs).toEqual(expect.any(Number));
    expect(rig.events.pairs[0]?.shadow.output).toBe('cd');
  });

  it('shadows a baseline answer after the user has it, and pairs both outputs', async () => {
    rig.routing = routing({ shadow: { target: target('v2'), sampleRate: 1 } });
    rig.upstream
      .on('v1', () => answer(200, chatAnswer('baseline says')))
      .on('v2', () => answer(200, chatAnswer('shadow says')));
    const res = await rig.post(CHAT, ask('hi'));
    expect(res.headers.get('x-aviary-role')).toBe('baseline');
    await res.text();
    for (let i = 0; i < 20 && rig.events.pairs.length === 0; i++) await rig.settle();
    expect(rig.upstream.calls.map((c) => c.target.label)).toEqual(['v1', 'v2']);
    expect(rig.events.outcomes.map((o) => o.role)).toEqual(['baseline', 'shadow']);
    expect(rig.events.pairs).toEqual([
      expect.objectContaining({
        requestId: res.headers.get('x-aviary-request-id'),
        baseline: expect.objectContaining({ output: 'baseline says' }) as unknown,
        shadow: expect.objectContaining({ output: 'shadow says' }) as unknown,
        prompt: [{ role: 'user', content: 'hi' }],
      }),
    ]);
  });
});

describe(forEndpoint.name, () => {
  const chatOnly = target('v2', { endpoints: ['chat.completions'] });
  const embedder = target('v1', { endpoints: ['embeddings', 'chat.completions'] });
  it.each<[string, Parameters<typeof routing>[0], string | null, string | null, string | null]>([
    ['no declarations: as routed', { shadow: { target: target('v2'), sampleRate: 1 } }, 'v1', null, 'v2'],
    [
      'a candidate that cannot answer leaves it to the baseline',
      { role: 'candidate', target: chatOnly, fallback: embedder },
      'v1',
      null,
      null,
    ],
    [
      'a shadow that cannot answer is not sent',
      { target: embedder, shadow: { target: chatOnly, sampleRate: 1 } },
      'v1',
      null,
      null,
    ],
    [
      'a fallback that cannot answer is not used',
      { role: 'candidate', target: embedder, fallback: chatOnly },
      'v1',
      null,
      null,
    ],
    ['nobody can answer', { target: chatOnly }, null, null, null],
  ])('%s', (_name, over, served, fallback, shadow) => {
    const r = forEndpoint(routing(over), 'embeddings');
    expect(r?.target.label ?? null).toBe(served);
    expect(r?.fallback?.label ?? null).toBe(fallback);
    expect(r?.shadow?.target.label ?? null).toBe(shadow);
  });

  it('routes a candidate-bucketed request the candidate cannot answer as baseline traffic', () => {
    expect(
      forEndpoint(routing({ role: 'candidate', target: chatOnly, fallback: embedder }), 'embeddings')?.role,
    ).toBe('baseline');
  });
});

describe('forced versions and cohorts', () => {
  let rig: ProxyRig | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  it("answers 403 in OpenAI's shape when the caller may not force a version, and calls nobody", async () => {
    rig = await startProxyRig(endpoints);
    const res = await rig.post(CHAT, ask('hi'), { 'x-aviary-force-version': 'v1' });

    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: {
        message: expect.stringContaining('AVIARY_FORCE_VERSION_KEYS') as string,
        type: 'permission_error',
        param: null,
        code: 'force_version_not_allowed',
      },
    });
    expect(rig.upstream.calls).toHaveLength(0);
  });

  it('serves an allowed forced version and marks its outcome forced', async () => {
    rig = await startProxyRig(endpoints, { env: { AVIARY_FORCE_VERSION_KEYS: '*' } });
    rig.upstream.on('v1', () => answer(200, chatAnswer('forced')));
    const res = await rig.post(CHAT, ask('hi'), { 'x-aviary-force-version': 'v1' });

    expect(res.status).toBe(200);
    await rig.settle();
    expect(rig.events.outcomes).toEqual([expect.objectContaining({ versionLabel: 'v1', forced: true })]);
  });

  it('answers 400 naming the header for a version the model does not have', async () => {
    rig = await startProxyRig(endpoints, { env: { AVIARY_FORCE_VERSION_KEYS: '*' } });
    const res = await rig.post(CHAT, ask('hi'), { 'x-aviary-force-version': 'nope' });

    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { type: 'invalid_request_error', param: 'x-aviary-force-version', code: 'unknown_version' },
    });
  });

  it('marks outcomes routed by a cohort rule, and only those', async () => {
    rig = await startProxyRig(endpoints);
    rig.upstream.on('v1', () => answer(200, chatAnswer('ok')));
    await rig.post(CHAT, ask('plain'));
    rig.routing = { ...rig.routing!, cohort: true };
    await rig.post(CHAT, ask('cohort'));

    await rig.settle();
    expect(rig.events.outcomes.map((o) => [o.cohort, o.forced])).toEqual([
      [undefined, undefined],
      [true, undefined],
    ]);
  });
});

describe('threads and conversations', () => {
  const RESPONSES = '/v1/responses';
  const threads = new ThreadTags(Buffer.from('unit-test-secret-0123456789')); // the rig's secret
  const stored = (json: Record<string, unknown>) =>
    JSON.stringify({ id: 'resp_up2', object: 'response', status: 'completed', output: [], ...json });
  let rig: ProxyRig;
  const start = async (key?: ReturnType<typeof routerKey>) => {
    rig = await startProxyRig({ [RESPONSES]: responses }, key ? { key } : {});
    // The split now sends this caller to the candidate, with the baseline as its fallback.
    rig.routing = routing({ role: 'candidate', target: target('v2'), fallback: target('v1') });
  };
  afterEach(async () => {
    await rig.close();
  });

  it('sends a turn to the version that stored its thread and holds its conversation, with no fallback', async () => {
    await start();
    const origin = { key: 'u:ann', model: 'm', versionId: 'v1-id' };
    const previous = threads.tag(RESPONSE_PREFIX, 'resp_up1', origin);
    const conversation = threads.tag(CONVERSATION_PREFIX, 'conv_up1', origin);
    rig.upstream.on('v1', () =>
      answer(200, stored({ previous_response_id: 'resp_up1', conversation: { id: 'conv_up1' } })),
    );
    const res = await rig.post(RESPONSES, { model: 'm', input: 'and?', previous_response_id: previous });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-aviary-model-version')).toBe('v1');
    const body = (await res.json()) as { previous_response_id: string; conversation: { id: string } };
    expect(body.previous_response_id).toBe(previous);
    const turn = await rig.post(RESPONSES, { model: 'm', input: 'next', conversation: { id: conversation } });
    expect(turn.headers.get('x-aviary-model-version')).toBe('v1');
    expect(((await turn.json()) as { conversation: { id: string } }).conversation.id).toBe(conversation);
    expect(
      rig.upstream.calls.map((c) => [
        c.target.label,
        c.payload['previous_response_id'],
        c.payload['conversation'],
      ]),
    ).toEqual([
      ['v1', 'resp_up1', undefined],
      ['v1', undefined, { id: 'conv_up1' }],
    ]);
    // The holding version failing is the answer: no other version could continue the thread.
    rig.upstream.on('v1', () => answer(503, '{}'));
    rig.upstream.on('v2', () => answer(200, stored({})));
    expect((await rig.post(RESPONSES, { model: 'm', input: 'x', conversation })).status).toBe(503);
    expect(rig.upstream.calls.filter((c) => c.target.label === 'v2')).toHaveLength(0);
  });

  it('goes by the split once the version that held the thread no longer serves the model', async () => {
    await start();
    const previous = threads.tag(RESPONSE_PREFIX, 'resp_up1', {
      key: 'u:ann',
      model: 'm',
      versionId: 'gone-id',
    });
    rig.upstream.on('v2', () => answer(200, stored({})));
    const res = await rig.post(RESPONSES, { model: 'm', input: 'and?', previous_response_id: previous });
    expect(res.headers.get('x-aviary-model-version')).toBe('v2');
  });

  it('refuses a key a thread or conversation of a model it may not use, naming the parameter', async () => {
    await start(routerKey({ models: new Set(['m']) }));
    const conversation = threads.tag(CONVERSATION_PREFIX, 'conv_up1', {
      key: 'r:x',
      model: 'big',
      versionId: 'v1-id',
    });
    const res = await rig.post(RESPONSES, { model: 'm', input: 'hi', conversation });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { param: string; code: string } }).error).toMatchObject({
      param: 'conversation',
      code: 'model_not_allowed',
    });
    expect(rig.upstream.calls).toHaveLength(0);
  });
});
