import { Agent, request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { REFUSALS } from './answers';
import { BEHAVIOURS, type Behaviour } from './behaviour';
import { startDemoLlm, type DemoLlm, type DemoLlmOptions } from './demo-llm';

const servers: DemoLlm[] = [];
async function start(options: Partial<DemoLlmOptions> = {}): Promise<DemoLlm> {
  const server = await startDemoLlm({ name: 'baseline', ...options });
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function client(server: DemoLlm, extra: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}): OpenAI {
  return new OpenAI({ baseURL: server.url, apiKey: 'x', maxRetries: 0, ...extra });
}

const user = (content: string): OpenAI.Chat.ChatCompletionMessageParam[] => [
  { role: 'system', content: 'You are helpful.' },
  { role: 'user', content },
];

async function waitFor(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function adminFetch(
  server: DemoLlm,
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.origin}${path}`, init);
  return { status: res.status, body: await res.json() };
}

describe('demo-llm chat completions (real openai SDK)', () => {
  it('answers a JSON completion deterministically from the last user message, echoing the model', async () => {
    const server = await start();
    const openai = client(server);
    const completion = await openai.chat.completions.create({
      model: 'support-chat',
      messages: user('What is the capital of France?'),
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('support-chat');
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('stop');
    expect(choice?.message.role).toBe('assistant');
    const content = choice?.message.content ?? '';
    expect(content).toMatch(/^Answer from baseline: you asked about "What is the capital of France\?"\./);
    expect(content.length).toBeGreaterThan(100);
    expect(completion.usage).toEqual({
      prompt_tokens: Math.ceil(('You are helpful.'.length + 'What is the capital of France?'.length) / 4),
      completion_tokens: Math.ceil(content.length / 4),
      total_tokens: Math.ceil(46 / 4) + Math.ceil(content.length / 4),
    });

    const again = await openai.chat.completions.create({
      model: 'm',
      messages: user('What is the capital of France?'),
    });
    expect(again.choices[0]?.message.content).toBe(content);
    const other = await openai.chat.completions.create({
      model: 'm',
      messages: user('Explain TCP slow start'),
    });
    expect(other.choices[0]?.message.content).not.toBe(content);
    expect(server.stats()).toMatchObject({ requests: 3, inFlight: 0, byOutcome: { ok: 3 } });
  });

  it('streams a role delta, word deltas, a finish chunk and (with include_usage) a usage chunk', async () => {
    const server = await start();
    const openai = client(server);
    const plain = await openai.chat.completions.create({ model: 'm', messages: user('Tell me about owls') });
    const stream = await openai.chat.completions.create({
      model: 'm',
      messages: user('Tell me about owls'),
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const contentChunks = chunks.filter((c) => (c.choices[0]?.delta.content ?? '') !== '');
    expect(contentChunks.length).toBeGreaterThan(5);
    const text = contentChunks.map((c) => c.choices[0]?.delta.content).join('');
    expect(text).toBe(plain.choices[0]?.message.content);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason !== null && c.choices[0] !== undefined);
    expect(finish?.choices[0]?.finish_reason).toBe('stop');
    const last = chunks[chunks.length - 1];
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual(plain.usage);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]?.id)).toBe(true);
  });

  it('omits the usage chunk without include_usage', async () => {
    const server = await start();
    const stream = await client(server).chat.completions.create({
      model: 'm',
      messages: user('hi'),
      stream: true,
    });
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.choices.length === 1 && c.usage == null)).toBe(true);
    expect(chunks[chunks.length - 1]?.choices[0]?.finish_reason).toBe('stop');
  });

  it('refuses about refusalRate of the requests (0.5 over 400) with typical wording', async () => {
    const server = await start({ behaviour: { refusalRate: 0.5 }, seed: 7 });
    const openai = client(server);
    let refusals = 0;
    for (let i = 0; i < 400; i++) {
      const completion = await openai.chat.completions.create({
        model: 'm',
        messages: user(`question ${i % 10}`),
      });
      const content = completion.choices[0]?.message.content ?? '';
      if (REFUSALS.includes(content)) refusals++;
      else expect(content).toMatch(/^Answer from baseline/);
    }
    expect(refusals / 400).toBeGreaterThanOrEqual(0.4);
    expect(refusals / 400).toBeLessThanOrEqual(0.6);
    expect(server.stats().byOutcome).toMatchObject({ refusal: refusals, ok: 400 - refusals });
    // 400 requests in a row: a count, not a timing; room for a busy machine.
  }, 30_000);

  it('surfaces errors as OpenAI.InternalServerError with an OpenAI error body, streaming or not', async () => {
    const server = await start({ behaviour: BEHAVIOURS.errors });
    server.setBehaviour({ errorRate: 1 });
    const openai = client(server);
    const failure = openai.chat.completions.create({ model: 'm', messages: user('hi') });
    await expect(failure).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    await expect(failure).rejects.toMatchObject({ status: 500, type: 'server_error' });
    await expect(
      openai.chat.completions.create({ model: 'm', messages: user('hi'), stream: true }),
    ).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    expect(server.stats().byOutcome.error).toBe(2);
  });

  it('returns parseable JSON in JSON mode, and unparseable JSON when brokenJson strikes', async () => {
    const server = await start({ name: 'candidate' });
    const openai = client(server);
    const asJson = await openai.chat.completions.create({
      model: 'm',
      messages: user('List three birds'),
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(asJson.choices[0]?.message.content ?? '')).toEqual({
      answer: expect.stringMatching(/^Answer from candidate: /) as unknown,
      model: 'candidate',
    });

    const schema = await openai.chat.completions.create({
      model: 'm',
      messages: user('Classify this ticket'),
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'ticket',
          schema: {
            type: 'object',
            properties: {
              category: { type: 'string', enum: ['billing', 'bug'] },
              priority: { type: 'integer' },
              summary: { type: 'string' },
              tags: { type: 'array', items: { type: 'string' } },
            },
            required: ['category', 'priority', 'summary', 'tags'],
          },
        },
      },
    });
    const parsed = JSON.parse(schema.choices[0]?.message.content ?? '') as Record<string, unknown>;
    expect(parsed).toMatchObject({ category: 'billing', summary: expect.any(String) as unknown });
    expect(typeof parsed['priority']).toBe('number');
    expect(Array.isArray(parsed['tags'])).toBe(true);

    server.setBehaviour(BEHAVIOURS.brokenJson);
    server.setBehaviour({ brokenJsonRate: 1 });
    for (let i = 0; i < 6; i++) {
      const broken = await openai.chat.completions.create({
        model: 'm',
        messages: user(`List birds ${i}`),
        response_format: { type: 'json_object' },
      });
      expect(() => JSON.parse(broken.choices[0]?.message.content ?? '') as unknown).toThrow();
    }
    // Not asking for JSON: brokenJsonRate does not apply.
    const prose = await openai.chat.completions.create({ model: 'm', messages: user('List birds') });
    expect(prose.choices[0]?.message.content).toMatch(/^Answer from candidate/);
    expect(server.stats().byOutcome).toMatchObject({ ok: 3, brokenJson: 6 });
  });

  it('returns empty content at emptyRate 1', async () => {
    const server = await start({ behaviour: { emptyRate: 1 } });
    const completion = await client(server).chat.completions.create({ model: 'm', messages: user('hi') });
    expect(completion.choices[0]?.message.content).toBe('');
    expect(completion.usage?.completion_tokens).toBe(0);
  });

  it('adds about latencyMs before the first byte', async () => {
    const server = await start({ behaviour: { latencyMs: 250 } });
    const openai = client(server);
    await openai.chat.completions.create({ model: 'm', messages: user('warm up') });
    const started = performance.now();
    await openai.chat.completions.create({ model: 'm', messages: user('hi') });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(245);
    expect(elapsed).toBeLessThan(450);

    server.setBehaviour({ latencyMs: 0 });
    const fastStart = performance.now();
    await openai.chat.completions.create({ model: 'm', messages: user('hi') });
    expect(performance.now() - fastStart).toBeLessThan(100);
  });

  it('paces streaming at tokensPerSecond', async () => {
    const server = await start({ behaviour: { tokensPerSecond: 400 } });
    const openai = client(server);
    const stream = await openai.chat.completions.create({
      model: 'm',
      messages: user('Explain consistent hashing'),
      stream: true,
      stream_options: { include_usage: true },
    });
    const started = performance.now();
    let tokens = 0;
    for await (const chunk of stream) tokens = chunk.usage?.completion_tokens ?? tokens;
    const elapsed = performance.now() - started;
    const expected = (tokens / 400) * 1000;
    expect(tokens).toBeGreaterThan(40);
    expect(elapsed).toBeGreaterThanOrEqual(expected * 0.8);
    expect(elapsed).toBeLessThan(expected * 2 + 100);
  });

  it('truncates at max_tokens with finish_reason length', async () => {
    const server = await start();
    const completion = await client(server).chat.completions.create({
      model: 'm',
      messages: user('Explain consistent hashing'),
      max_completion_tokens: 5,
    });
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(completion.choices[0]?.message.content).toHaveLength(20);
    expect(completion.usage?.completion_tokens).toBe(5);
  });

  it('answers the same sequence identically for the same seed, and differently for another seed', async () => {
    const behaviour: Partial<Behaviour> = {
      refusalRate: 0.3,
      errorRate: 0.15,
      emptyRate: 0.1,
      brokenJsonRate: 0.5,
      latencyJitterMs: 2,
    };
    const run = async (server: DemoLlm): Promise<string[]> => {
      const openai = client(server);
      const out: string[] = [];
      for (let i = 0; i < 40; i++) {
        const params = {
          model: 'm',
          messages: user(`prompt ${i % 7}`),
          ...(i % 3 === 0 ? { response_format: { type: 'json_object' as const } } : {}),
        };
        try {
          if (i % 4 === 0) {
            const stream = await openai.chat.completions.create({ ...params, stream: true });
            let text = '';
            for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
            out.push(`stream:${text}`);
          } else {
            const completion = await openai.chat.completions.create(params);
            out.push(`${completion.id}:${completion.choices[0]?.message.content}`);
          }
        } catch (err) {
          out.push(err instanceof OpenAI.APIError ? `status ${err.status}` : String(err));
        }
      }
      return out;
    };
    const [a, b, c] = await Promise.all([
      start({ seed: 42, behaviour }),
      start({ seed: 42, behaviour }),
      start({ seed: 43, behaviour }),
    ]);
    if (a === undefined || b === undefined || c === undefined) throw new Error('servers did not start');
    const first = await run(a);
    expect(await run(b)).toEqual(first);
    expect(await run(c)).not.toEqual(first);
    expect(new Set(first.map((r) => r.replace(/^chatcmpl-\w+:/, '').slice(0, 12))).size).toBeGreaterThan(3);
    expect(a.stats()).toEqual({ ...b.stats() });
  });

  it('counts a client abort mid-stream and stops streaming', async () => {
    const server = await start({ behaviour: { tokensPerSecond: 50 } });
    const stream = await client(server).chat.completions.create({
      model: 'm',
      messages: user('Tell me a long story'),
      stream: true,
    });
    let seen = 0;
    for await (const _chunk of stream) {
      if (++seen === 2) {
        stream.controller.abort();
        break;
      }
    }
    await waitFor(() => server.stats().byOutcome.aborted === 1);
    expect(server.stats()).toMatchObject({ requests: 1, inFlight: 0, byOutcome: { aborted: 1, ok: 0 } });
  });

  it('hangs (hangRate) until the client times out, and close() still returns promptly', async () => {
    const server = await start({ behaviour: BEHAVIOURS.hangs });
    const openai = client(server, { timeout: 150 });
    const started = performance.now();
    // APIConnectionTimeoutError in plain node; under jest the SDK cannot recognise the DOMException from
    // another realm and reports its parent class, APIConnectionError.
    await expect(openai.chat.completions.create({ model: 'm', messages: user('hi') })).rejects.toBeInstanceOf(
      OpenAI.APIConnectionError,
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
    await waitFor(() => server.stats().inFlight === 0);
    expect(server.stats().byOutcome.hang).toBe(1);

    const pending = client(server).chat.completions.create({ model: 'm', messages: user('hi') });
    const settled = pending.then(
      () => 'answered',
      () => 'failed',
    );
    await waitFor(() => server.stats().inFlight === 1);
    const closeStarted = performance.now();
    await server.close();
    expect(performance.now() - closeStarted).toBeLessThan(500);
    expect(await settled).toBe('failed');
  });

  it('drops the connection without a response (connectionDropRate)', async () => {
    const server = await start({ behaviour: { connectionDropRate: 1 } });
    await expect(
      client(server).chat.completions.create({ model: 'm', messages: user('hi') }),
    ).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    expect(server.stats()).toMatchObject({ inFlight: 0, byOutcome: { drop: 1 } });
  });

  it('requires the API key when one is configured', async () => {
    const server = await start({ apiKey: 'sk-demo' });
    await expect(
      client(server, { apiKey: 'wrong' }).chat.completions.create({ model: 'm', messages: user('hi') }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client(server, { apiKey: 'wrong' }).models.list()).rejects.toMatchObject({ status: 401 });
    const ok = await client(server, { apiKey: 'sk-demo' }).chat.completions.create({
      model: 'm',
      messages: user('hi'),
    });
    expect(ok.choices[0]?.message.content).toMatch(/^Answer from/);
    expect(server.stats().byOutcome).toMatchObject({ unauthorized: 1, ok: 1 });
  });

  it('lists one model named after the server', async () => {
    const server = await start({ name: 'candidate' });
    const models = [];
    for await (const model of client(server).models.list()) models.push(model);
    expect(models).toEqual([expect.objectContaining({ id: 'candidate', object: 'model' })]);
  });

  it('answers 400 OpenAI-style for bad JSON and missing messages', async () => {
    const server = await start();
    const post = async (body: string): Promise<{ status: number; body: unknown }> => {
      const res = await fetch(`${server.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      return { status: res.status, body: await res.json() };
    };
    expect(await post('{"model": "m", "messages": [')).toEqual({
      status: 400,
      body: {
        error: {
          message: expect.any(String) as unknown,
          type: 'invalid_request_error',
          param: null,
          code: null,
        },
      },
    });
    expect(await post('{"model": "m"}')).toEqual({
      status: 400,
      body: {
        error: {
          message: "Missing required parameter: 'messages'.",
          type: 'invalid_request_error',
          param: 'messages',
          code: 'missing_required_parameter',
        },
      },
    });
    await expect(client(server).chat.completions.create({ model: 'm', messages: [] })).rejects.toBeInstanceOf(
      OpenAI.BadRequestError,
    );
    expect(server.stats().byOutcome.badRequest).toBe(3);
    expect((await fetch(`${server.origin}/nope`)).status).toBe(404);
  });

  it('switches behaviour at runtime through the admin endpoint', async () => {
    const server = await start({ name: 'candidate' });
    const openai = client(server);
    expect(await adminFetch(server, '/admin/behaviour')).toEqual({ status: 200, body: BEHAVIOURS.fine });

    const put = await adminFetch(server, '/admin/behaviour', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ preset: 'refusesMore', refusalRate: 1 }),
    });
    expect(put).toEqual({ status: 200, body: { ...BEHAVIOURS.refusesMore, refusalRate: 1 } });
    const refused = await openai.chat.completions.create({ model: 'm', messages: user('hi') });
    expect(REFUSALS).toContain(refused.choices[0]?.message.content);

    // A partial update merges into the current behaviour.
    await adminFetch(server, '/admin/behaviour', {
      method: 'PUT',
      body: '{"refusalRate": 0, "latencyMs": 5}',
    });
    expect(server.behaviour()).toEqual({ ...BEHAVIOURS.fine, latencyMs: 5 });
    const answered = await openai.chat.completions.create({ model: 'm', messages: user('hi') });
    expect(answered.choices[0]?.message.content).toMatch(/^Answer from candidate/);

    const invalid = await adminFetch(server, '/admin/behaviour', {
      method: 'PUT',
      body: '{"refusalRate": 2}',
    });
    expect(invalid).toMatchObject({ status: 400, body: { error: { param: 'refusalRate' } } });
    const unknown = await adminFetch(server, '/admin/behaviour', {
      method: 'PUT',
      body: '{"preset": "nope"}',
    });
    expect(unknown).toMatchObject({ status: 400, body: { error: { param: 'preset' } } });
    expect(server.behaviour().latencyMs).toBe(5);

    expect(await adminFetch(server, '/admin/stats')).toEqual({
      status: 200,
      body: expect.objectContaining({ name: 'candidate', requests: 2, inFlight: 0 }) as unknown,
    });
  });

  it('keeps connections alive between requests', async () => {
    const server = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = (): Promise<{ reused: boolean; status: number }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest(
          `${server.url}/chat/completions`,
          { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ reused: req.reusedSocket, status: res.statusCode ?? 0 }));
          },
        );
        req.on('error', reject);
        req.end('{"model":"m","messages":[{"role":"user","content":"hi"}]}');
      });
    expect(await post()).toEqual({ reused: false, status: 200 });
    expect(await post()).toEqual({ reused: true, status: 200 });
    agent.destroy();
  });
});

describe('demo-llm misbehaviours for router robustness tests', () => {
  const post = (server: DemoLlm, body: unknown) =>
    fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const ask = (extra: Record<string, unknown> = {}) => ({ messages: user('hello'), ...extra });

  it('pads answers to a requested size', async () => {
    const server = await start({ behaviour: { padToChars: 100_000 } });
    const completion = (await (await post(server, ask())).json()) as OpenAI.Chat.ChatCompletion;
    expect(completion.choices[0]?.message.content?.length).toBe(100_000);
  });

  it('drips a non-streamed answer in slices', async () => {
    const server = await start({ behaviour: { dripIntervalMs: 20 } });
    const started = Date.now();
    const res = await post(server, ask());
    const completion = (await res.json()) as OpenAI.Chat.ChatCompletion;
    expect(Date.now() - started).toBeGreaterThanOrEqual(15 * 20 - 10);
    expect(completion.choices[0]?.message.content).toContain('Answer from baseline');
  });

  it('frames streams with CRLF when asked, which the openai SDK reads', async () => {
    const server = await start({ behaviour: { sseCrlf: true } });
    const raw = await (await post(server, ask({ stream: true }))).text();
    expect(raw).toContain('\r\n\r\n');
    expect(raw.replace(/\r\n/g, '')).not.toContain('\n');
    let text = '';
    for await (const chunk of await client(server).chat.completions.create({
      model: 'm',
      messages: user('hello'),
      stream: true,
    }))
      text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toContain('Answer from baseline');
  });
});

describe('demo-llm: the other OpenAI APIs (real openai SDK)', () => {
  const weather: OpenAI.Chat.ChatCompletionTool = {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  };
  const schemaFormat = {
    type: 'json_schema' as const,
    json_schema: {
      name: 'forecast',
      strict: true,
      schema: {
        type: 'object',
        properties: { city: { type: 'string' }, celsius: { type: 'number' } },
        required: ['city', 'celsius'],
        additionalProperties: false,
      },
    },
  };

  it('answers the Responses API, JSON and streamed with its typed events', async () => {
    const openai = client(await start());
    const r = await openai.responses.create({
      model: 'm',
      input: 'What is a canary release?',
      instructions: 'Be brief.',
    });
    expect(r.object).toBe('response');
    expect(r.output_text).toContain('Answer from baseline');
    expect(r.usage?.output_tokens).toBeGreaterThan(0);
    const types: string[] = [];
    let text = '';
    for await (const e of await openai.responses.create({ model: 'm', input: 'Stream it', stream: true })) {
      types.push(e.type);
      if (e.type === 'response.output_text.delta') text += e.delta;
    }
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(text).toContain('Answer from baseline');
  });

  it('continues only the responses it stored, as OpenAI does', async () => {
    const one = client(await start());
    const other = client(await start());
    const first = await one.responses.create({ model: 'm', input: 'Hello' });
    const next = await one.responses.create({ model: 'm', input: 'And?', previous_response_id: first.id });
    expect(next.output_text).toContain('Answer from baseline');
    // It names the response it continues, as OpenAI's response objects do.
    expect(next.previous_response_id).toBe(first.id);
    expect(first.previous_response_id).toBeNull();
    expect((await one.responses.retrieve(next.id)).previous_response_id).toBe(first.id);
    let streamedId = '';
    for await (const e of await one.responses.create({ model: 'm', input: 'Go', stream: true }))
      if (e.type === 'response.created') streamedId = e.response.id;
    await one.responses.create({ model: 'm', input: 'On', previous_response_id: streamedId });
    // Another server never stored it; an answer made with store: false is not kept either.
    const err = (await other.responses
      .create({ model: 'm', input: 'And?', previous_response_id: first.id })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('previous_response_not_found');
    expect(err.param).toBe('previous_response_id');
    const unstored = await one.responses.create({ model: 'm', input: 'Hi', store: false });
    await expect(
      one.responses.create({ model: 'm', input: 'x', previous_response_id: unstored.id }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it("holds conversations, appends each response in one to it, and knows no other server's", async () => {
    const one = client(await start());
    const other = client(await start());
    const conv = await one.conversations.create({
      metadata: { topic: 'order' },
      items: [{ type: 'message', role: 'user', content: 'Hello' }],
    });
    expect(conv).toMatchObject({ object: 'conversation', metadata: { topic: 'order' } });
    const r = await one.responses.create({ model: 'm', input: 'Where is it?', conversation: conv.id });
    expect(r.conversation?.id).toBe(conv.id);
    for await (const e of await one.responses.create({
      model: 'm',
      input: 'And now?',
      conversation: { id: conv.id },
      stream: true,
    }))
      if (e.type === 'response.completed') expect(e.response.conversation?.id).toBe(conv.id);
    const items = (await one.conversations.items.list(conv.id)).data;
    expect(items).toHaveLength(1 + 2 * 2);
    expect(items[1]).toMatchObject({ role: 'user', content: [{ type: 'input_text', text: 'Where is it?' }] });
    expect(items[2]).toMatchObject({ type: 'message', role: 'assistant' });
    const item = items[0]!;
    expect(await one.conversations.items.retrieve(item.id!, { conversation_id: conv.id })).toMatchObject(
      item,
    );
    expect((await one.conversations.items.delete(item.id!, { conversation_id: conv.id })).id).toBe(conv.id);
    expect((await one.conversations.update(conv.id, { metadata: { topic: 'x' } })).metadata).toEqual({
      topic: 'x',
    });
    const elsewhere = (await other.responses
      .create({ model: 'm', input: 'Hi', conversation: conv.id })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.NotFoundError>;
    expect(elsewhere).toBeInstanceOf(OpenAI.NotFoundError);
    expect(elsewhere.param).toBe('conversation');
    await expect(other.conversations.retrieve(conv.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(await one.conversations.delete(conv.id)).toMatchObject({ id: conv.id, deleted: true });
    await expect(one.conversations.retrieve(conv.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('calls a tool named in the prompt, in chat and in the Responses API, JSON and streamed', async () => {
    const openai = client(await start());
    const chat = await openai.chat.completions.create({
      model: 'm',
      messages: user('Use get_weather for Oslo'),
      tools: [weather],
    });
    expect(chat.choices[0]?.finish_reason).toBe('tool_calls');
    const call = chat.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toHaveProperty('city');
    let args = '';
    for await (const c of await openai.chat.completions.create({
      model: 'm',
      messages: user('Use get_weather please'),
      tools: [weather],
      stream: true,
    }))
      args += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
    expect(JSON.parse(args)).toHaveProperty('city');
    const r = await openai.responses.create({
      model: 'm',
      input: 'call get_weather',
      tools: [
        {
          type: 'function',
          name: 'get_weather',
          parameters: weather.function.parameters ?? null,
          strict: false,
        },
      ],
    });
    expect(r.output[0]).toMatchObject({ type: 'function_call', name: 'get_weather' });
  });

  it('breaks tool calls and schemas on request, and refuses structured outputs in the refusal field', async () => {
    const server = await start({ behaviour: { badToolCallRate: 1, schemaViolationRate: 1 } });
    const openai = client(server);
    const names = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const c = await openai.chat.completions.create({
        model: 'm',
        messages: user(`get_weather ${i}`),
        tools: [weather],
      });
      const call = c.choices[0]?.message.tool_calls?.[0];
      if (call?.type === 'function') {
        let parses = true;
        try {
          JSON.parse(call.function.arguments);
        } catch {
          parses = false;
        }
        names.add(parses ? call.function.name : 'broken-arguments');
      }
    }
    expect(names).toEqual(new Set(['undeclared_tool', 'broken-arguments']));
    const violated = await openai.chat.completions.create({
      model: 'm',
      messages: user('forecast'),
      response_format: schemaFormat,
    });
    expect(JSON.parse(violated.choices[0]?.message.content ?? '')).toEqual({
      unexpected: true,
      answer: null,
    });
    server.setBehaviour({ badToolCallRate: 0, schemaViolationRate: 0, refusalRate: 1 });
    const refused = await openai.chat.completions.create({
      model: 'm',
      messages: user('forecast'),
      response_format: schemaFormat,
    });
    expect(refused.choices[0]?.message).toMatchObject({
      content: null,
      refusal: expect.stringMatching(/sorry|can't|cannot/i) as string,
    });
  });

  it('embeds deterministically: float and base64 (the SDK default) agree, another server is close but not equal', async () => {
    const a = client(await start({ name: 'baseline' }));
    const b = client(await start({ name: 'candidate' }));
    const one = await a.embeddings.create({ model: 'e', input: ['hello', 'world'] });
    const again = await a.embeddings.create({
      model: 'e',
      input: ['hello', 'world'],
      encoding_format: 'float',
    });
    expect(one.data).toHaveLength(2);
    expect(one.data[0]?.embedding).toHaveLength(64);
    one.data[0]!.embedding.forEach((x, i) => expect(x).toBeCloseTo(again.data[0]!.embedding[i]!, 6));
    const other = await b.embeddings.create({ model: 'e', input: 'hello', dimensions: 64 });
    const u = one.data[0]!.embedding;
    const v = other.data[0]!.embedding;
    const cos = u.reduce((s, x, i) => s + x * v[i]!, 0);
    expect(cos).toBeGreaterThan(0.95);
    expect(cos).toBeLessThan(0.99999);
  });

  it('answers legacy completions, JSON and streamed', async () => {
    const openai = client(await start());
    const c = await openai.completions.create({ model: 'm', prompt: 'Once upon a time', max_tokens: 200 });
    expect(c.object).toBe('text_completion');
    expect(c.choices[0]?.text).toContain('Answer from baseline');
    let text = '';
    for await (const chunk of await openai.completions.create({ model: 'm', prompt: 'Once', stream: true }))
      text += chunk.choices[0]?.text ?? '';
    expect(text).toContain('Answer from baseline');
  });
});

describe('demo-llm stream pacing for benchmarks', () => {
  it.each([8, 32, 37])('streams exactly %i content chunks, chunkIntervalMs apart', async (n) => {
    const server = await start({ behaviour: { streamChunks: n, chunkIntervalMs: 5 } });
    const started = Date.now();
    let chunks = 0;
    let text = '';
    for await (const c of await client(server).chat.completions.create({
      model: 'm',
      messages: user('hi'),
      stream: true,
    })) {
      const d = c.choices[0]?.delta.content;
      if (d) {
        chunks++;
        text += d;
      }
    }
    expect(chunks).toBe(n);
    expect(text).toContain('Answer from baseline');
    expect(Date.now() - started).toBeGreaterThanOrEqual(n * 5 - 5);
  });
});
