import OpenAI from 'openai';
import type { OutcomeEvent } from '@aviary/contracts';
import { waitFor } from '@aviary/testing';
import { startStack, step, type Stack } from './stack';

// Each suite starts a control plane, a router and model servers: slow on a busy machine.
jest.setTimeout(60_000);

const ask = (content: string) => [{ role: 'user' as const, content }];
const weather = {
  type: 'object',
  properties: { city: { type: 'string' } },
  required: ['city'],
  additionalProperties: false,
};
const forecast = {
  type: 'object',
  properties: { city: { type: 'string' }, celsius: { type: 'number' } },
  required: ['city', 'celsius'],
  additionalProperties: false,
};

async function outcomeOf(s: Stack, requestId: string | null, role = 'baseline'): Promise<OutcomeEvent> {
  await waitFor(`the outcome of ${requestId}`, () =>
    s.outcomes.find((o) => o.requestId === requestId && o.role === role),
  );
  return s.outcomes.find((o) => o.requestId === requestId && o.role === role)!;
}

describe('router endpoints through the openai SDK', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  }, 30_000);
  afterEach(() => {
    s.baseline.setBehaviour('fine');
    s.candidate.setBehaviour('fine');
  });

  it('serves the Responses API, JSON and streamed, with outcomes and metrics per endpoint', async () => {
    const { data, response } = await s.openai.responses
      .create({ model: s.model, input: 'What is a canary release?', instructions: 'Be brief.' })
      .withResponse();
    expect(data.output_text).toContain('Answer from baseline');
    expect(response.headers.get('x-aviary-model-version')).toBe('v1');
    expect(await outcomeOf(s, response.headers.get('x-aviary-request-id'))).toMatchObject({
      endpoint: 'responses',
      stream: false,
      errorClass: null,
      outputChars: data.output_text.length,
    });
    const { data: stream, response: streamed } = await s.openai.responses
      .create({ model: s.model, input: 'Stream it', stream: true })
      .withResponse();
    let text = '';
    const types: string[] = [];
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.output_text.delta') text += e.delta;
    }
    expect(types.at(-1)).toBe('response.completed');
    const o = await outcomeOf(s, streamed.headers.get('x-aviary-request-id'));
    expect(o).toMatchObject({
      endpoint: 'responses',
      stream: true,
      errorClass: null,
      outputChars: text.length,
    });
    expect(o.ttftMs).not.toBeNull();
    const m = await (await fetch(`${s.router.url}/metrics`)).text();
    expect(m).toMatch(
      new RegExp(
        `aviary_router_requests_total\\{model="${s.model}",version="v1",role="baseline",endpoint="responses",status="200"\\} 2`,
      ),
    );
  });

  it('serves embeddings (base64, the SDK default, and float) and legacy completions, JSON and streamed', async () => {
    const { data: e, response } = await s.openai.embeddings
      .create({ model: s.model, input: ['hello', 'world'] })
      .withResponse();
    expect(e.data).toHaveLength(2);
    expect(e.data[0]?.embedding).toHaveLength(64);
    expect(await outcomeOf(s, response.headers.get('x-aviary-request-id'))).toMatchObject({
      endpoint: 'embeddings',
      errorClass: null,
      empty: false,
    });
    const floats = await s.openai.embeddings.create({
      model: s.model,
      input: 'hello',
      encoding_format: 'float',
    });
    expect(floats.data[0]?.embedding[0]).toBeCloseTo(e.data[0]!.embedding[0]!, 5);

    const c = await s.openai.completions.create({
      model: s.model,
      prompt: 'Once upon a time',
      max_tokens: 200,
    });
    expect(c.choices[0]?.text).toContain('Answer from baseline');
    const { data: cs, response: cr } = await s.openai.completions
      .create({ model: s.model, prompt: 'Once', stream: true })
      .withResponse();
    let text = '';
    for await (const chunk of cs) text += chunk.choices[0]?.text ?? '';
    expect(await outcomeOf(s, cr.headers.get('x-aviary-request-id'))).toMatchObject({
      endpoint: 'completions',
      stream: true,
      outputChars: text.length,
    });
  });

  it('retrieves a routed model, 404s others, and names what it routes for unsupported endpoints', async () => {
    expect(await s.openai.models.retrieve(s.model)).toMatchObject({ id: s.model, object: 'model' });
    await expect(s.openai.models.retrieve('no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const err = (await s.openai.images
      .generate({ model: s.model, prompt: 'a canary' })
      .catch((x: unknown) => x)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.message).toContain('/v1/responses');
    expect(err.message).toContain('/v1/embeddings');
    expect(err.headers?.get('x-aviary-request-id')).toMatch(/^avy-/);
  });

  it('counts a tool call as an answer, and broken tool calls as tool-call errors', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: weather } }];
    const { data, response } = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('Use get_weather for Oslo'), tools })
      .withResponse();
    expect(data.choices[0]?.finish_reason).toBe('tool_calls');
    expect(await outcomeOf(s, response.headers.get('x-aviary-request-id'))).toMatchObject({
      empty: false,
      toolCalls: 1,
      toolCallErrors: 0,
    });
    s.baseline.setBehaviour({ badToolCallRate: 1 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { response: r } = await s.openai.chat.completions
        .create({ model: s.model, messages: ask(`get_weather ${i}`), tools, stream: i % 2 === 0 })
        .withResponse();
      if (i % 2 === 0) await r.text();
      ids.push(r.headers.get('x-aviary-request-id')!);
    }
    const { response: rr } = await s.openai.responses
      .create({
        model: s.model,
        input: 'call get_weather',
        tools: [{ type: 'function', name: 'get_weather', parameters: weather, strict: true }],
      })
      .withResponse();
    ids.push(rr.headers.get('x-aviary-request-id')!);
    for (const id of ids) expect(await outcomeOf(s, id)).toMatchObject({ toolCalls: 1, toolCallErrors: 1 });
    const m = await (await fetch(`${s.router.url}/metrics`)).text();
    expect(m).toContain(
      `aviary_router_tool_call_errors_total{model="${s.model}",version="v1",role="baseline"} 5`,
    );
  });

  it('checks json_schema answers against the schema, and reads the refusal field', async () => {
    const format = {
      type: 'json_schema' as const,
      json_schema: { name: 'forecast', strict: true, schema: forecast },
    };
    const ok = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('forecast'), response_format: format })
      .withResponse();
    expect(await outcomeOf(s, ok.response.headers.get('x-aviary-request-id'))).toMatchObject({
      invalidJson: false,
      jsonRequested: true,
    });
    s.baseline.setBehaviour({ schemaViolationRate: 1 });
    const bad = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('forecast'), response_format: format })
      .withResponse();
    expect(JSON.parse(bad.data.choices[0]?.message.content ?? '')).toBeTruthy(); // valid JSON…
    expect(await outcomeOf(s, bad.response.headers.get('x-aviary-request-id'))).toMatchObject({
      invalidJson: true, // …that does not match the schema
      schemaInvalid: true,
    });
    const inResponses = await s.openai.responses
      .create({
        model: s.model,
        input: 'forecast',
        text: { format: { type: 'json_schema', name: 'f', schema: forecast, strict: true } },
      })
      .withResponse();
    expect(await outcomeOf(s, inResponses.response.headers.get('x-aviary-request-id'))).toMatchObject({
      endpoint: 'responses',
      schemaInvalid: true,
    });
    s.baseline.setBehaviour({ schemaViolationRate: 0, refusalRate: 1 });
    const refused = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('forecast'), response_format: format })
      .withResponse();
    expect(refused.data.choices[0]?.message.content).toBeNull();
    expect(await outcomeOf(s, refused.response.headers.get('x-aviary-request-id'))).toMatchObject({
      refusal: true,
      invalidJson: false,
      empty: false,
    });
  });

  it('reads a CRLF-framed stream from the upstream as it arrives', async () => {
    s.baseline.setBehaviour({ sseCrlf: true, tokensPerSecond: 200 });
    const { data: stream, response } = await s.openai.chat.completions
      .create({
        model: s.model,
        messages: ask('a longer answer, please, with many words in it'),
        stream: true,
      })
      .withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    const o = await outcomeOf(s, response.headers.get('x-aviary-request-id'));
    expect(o).toMatchObject({ stream: true, errorClass: null, outputChars: text.length });
    // The first token was read when it came, not when the stream ended.
    expect(o.ttftMs!).toBeLessThan(o.latencyMs / 2);
    expect(o.interTokenMs).toBeGreaterThan(0);
  });
});

describe('router endpoints: split and shadow', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(
      {},
      { candidateVersion: { endpoints: ['chat.completions', 'responses', 'completions'] } },
    );
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  }, 30_000);

  it('keeps a user on one version across endpoints at 50%, and never sends embeddings to a version that does not serve them', async () => {
    const id = await s.rollout([step.weight(50), step.weight(100)]);
    const seen = new Map<string, Set<string>>();
    const note = (user: string, version: string | null) => {
      const set = seen.get(user) ?? new Set<string>();
      set.add(version ?? '?');
      seen.set(user, set);
    };
    const embeddingVersions = new Set<string | null>();
    for (let i = 0; i < 24; i++) {
      const user = `user-${i}`;
      const chat = await s.openai.chat.completions
        .create({ model: s.model, messages: ask('hi'), user })
        .withResponse();
      note(user, chat.response.headers.get('x-aviary-model-version'));
      const r = await s.openai.responses.create({ model: s.model, input: 'hi', user }).withResponse();
      note(user, r.response.headers.get('x-aviary-model-version'));
      const c = await s.openai.completions.create({ model: s.model, prompt: 'hi', user }).withResponse();
      note(user, c.response.headers.get('x-aviary-model-version'));
      const e = await s.openai.embeddings.create({ model: s.model, input: 'hi', user }).withResponse();
      embeddingVersions.add(e.response.headers.get('x-aviary-model-version'));
    }
    for (const versions of seen.values()) expect(versions.size).toBe(1);
    const onCandidate = [...seen.values()].filter((v) => v.has('v2')).length;
    expect(onCandidate).toBeGreaterThan(2);
    expect(onCandidate).toBeLessThan(22);
    expect(embeddingVersions).toEqual(new Set(['v1']));
    await s.rollback(id);
  }, 60_000);

  it('keeps a Responses API thread on the version that stored it at 50%, without a user', async () => {
    const id = await s.rollout([step.weight(50), step.weight(100)]);
    const threadVersions: Array<Set<string | null>> = [];
    const lastIds: string[] = [];
    const previousIds: Array<string | null> = [];
    for (let t = 0; t < 16; t++) {
      const versions = new Set<string | null>();
      const stream = t % 2 === 1;
      let previous: string | undefined;
      let beforeLast: string | null = null;
      for (let turn = 0; turn < 4; turn++) {
        beforeLast = previous ?? null;
        // Without the thread's routing, a follow-up landing on the other version is refused by it
        // (400 previous_response_not_found), as OpenAI's stored responses are.
        const request = {
          model: s.model,
          input: `turn ${turn}`,
          ...(previous ? { previous_response_id: previous } : {}),
        };
        // A response names the one it continues by the id the client has (not the upstream's).
        const continues = previous ?? null;
        if (stream && turn % 2 === 1) {
          const { data, response } = await s.openai.responses
            .create({ ...request, stream: true })
            .withResponse();
          for await (const e of data)
            if (e.type === 'response.created' || e.type === 'response.completed') {
              expect(e.response.previous_response_id).toBe(continues);
              previous = e.response.id;
            }
          versions.add(response.headers.get('x-aviary-model-version'));
        } else {
          const { data, response } = await s.openai.responses.create(request).withResponse();
          expect(data.previous_response_id).toBe(continues);
          previous = data.id;
          versions.add(response.headers.get('x-aviary-model-version'));
        }
        expect(previous).toMatch(/^resp_avr\./);
      }
      threadVersions.push(versions);
      lastIds.push(previous!);
      previousIds.push(beforeLast);
    }
    for (const versions of threadVersions) expect(versions.size).toBe(1);
    const onCandidate = threadVersions.filter((v) => v.has('v2')).length;
    expect(onCandidate).toBeGreaterThan(0);
    expect(onCandidate).toBeLessThan(16);
    // The upstreams were sent their own ids, not Aviary's.
    const sent = [...s.baseline.received(), ...s.candidate.received()]
      .map((r) => r.body['previous_response_id'])
      .filter((p): p is string => typeof p === 'string');
    expect(sent.length).toBeGreaterThanOrEqual(16 * 3);
    expect(sent.some((p) => p.includes('avr.'))).toBe(false);
    const metrics = await (await fetch(`${s.router.url}/metrics`)).text();
    expect(metrics).toContain(
      `aviary_router_thread_continuations_total{model="${s.model}",routing="thread"} ${16 * 3}`,
    );

    // A stored response is read and deleted at the version that stored it, by its Aviary id.
    const onV2 = threadVersions.findIndex((v) => v.has('v2'));
    const stored = lastIds[onV2]!;
    const { data: got, response: gotRes } = await s.openai.responses.retrieve(stored).withResponse();
    expect(got.id).toBe(stored);
    // Read back, it names the turn before by the very id that turn was handed out with.
    expect(got.previous_response_id).toBe(previousIds[onV2]);
    expect(gotRes.headers.get('x-aviary-model-version')).toBe('v2');
    expect((await s.openai.responses.inputItems.list(stored)).data).toEqual([]);
    const other = lastIds[threadVersions.findIndex((v) => v.has('v1'))]!;
    await s.openai.responses.delete(other);
    await expect(s.openai.responses.retrieve(other)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const unknown = (await s.openai.responses
      .retrieve('resp_not_from_aviary')
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.NotFoundError>;
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown.code).toBe('response_not_routable');
    const put = await fetch(`${s.router.url}/v1/responses/${encodeURIComponent(stored)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${s.openai.apiKey}` },
    });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, DELETE');
    await s.rollback(id);
    // Rolled back: the candidate no longer serves the model, and its stored responses are out of reach.
    await waitFor('the rollback to reach the router', async () => {
      const r = await fetch(`${s.router.url}/v1/responses/${encodeURIComponent(stored)}`, {
        headers: { authorization: `Bearer ${s.openai.apiKey}` },
      });
      return (
        r.status === 404 &&
        ((await r.json()) as { error: { code: string } }).error.code === 'response_version_gone'
      );
    });
  }, 90_000);

  it('keeps a conversation and every response in it on the version that holds it at 50%', async () => {
    const id = await s.rollout([step.weight(50), step.weight(100)]);
    const held: Array<{ id: string; version: string | null }> = [];
    for (let c = 0; c < 12; c++) {
      // The Conversations API names no model: the router serves one here, so the header is optional;
      // half of the conversations name it anyway.
      const { data: conv, response } = await s.openai.conversations
        .create(
          { metadata: { n: String(c) }, items: [{ type: 'message', role: 'user', content: 'hello' }] },
          c % 2 === 0 ? { headers: { 'x-aviary-model': s.model } } : {},
        )
        .withResponse();
      expect(conv.id).toMatch(/^conv_avr\./);
      expect(conv.metadata).toEqual({ n: String(c) });
      const version = response.headers.get('x-aviary-model-version');
      const versions = new Set([version]);
      // Without the conversation's routing, a turn landing on the other version is refused by it
      // (404: it does not hold the conversation), as two providers' accounts would.
      for (let turn = 0; turn < 3; turn++) {
        const request = { model: s.model, input: `turn ${turn}`, conversation: conv.id };
        if (turn === 1) {
          const { data, response: r } = await s.openai.responses
            .create({ ...request, stream: true })
            .withResponse();
          for await (const e of data)
            if (e.type === 'response.completed') expect(e.response.conversation?.id).toBe(conv.id);
          versions.add(r.headers.get('x-aviary-model-version'));
        } else {
          const { data, response: r } = await s.openai.responses
            .create(turn === 2 ? { ...request, conversation: { id: conv.id } } : request)
            .withResponse();
          expect(data.conversation?.id).toBe(conv.id);
          versions.add(r.headers.get('x-aviary-model-version'));
        }
      }
      expect(versions.size).toBe(1);
      // The first item, then each turn's input and answer, at the version that holds it.
      const items = await s.openai.conversations.items.list(conv.id);
      expect(items.data).toHaveLength(1 + 3 * 2);
      held.push({ id: conv.id, version });
    }
    const onV2 = held.find((h) => h.version === 'v2');
    const onV1 = held.find((h) => h.version === 'v1');
    expect(onV2 && onV1).toBeTruthy();
    // The upstreams were sent their own conversation ids, not Aviary's.
    const sent = [...s.baseline.received(), ...s.candidate.received()]
      .map((r) => r.body['conversation'])
      .filter((c) => c !== undefined);
    expect(sent.length).toBe(12 * 3);
    expect(JSON.stringify(sent)).not.toContain('avr.');
    const metrics = await (await fetch(`${s.router.url}/metrics`)).text();
    expect(metrics).toContain(
      `aviary_router_conversation_turns_total{model="${s.model}",routing="conversation"} ${12 * 3}`,
    );

    // Read, updated, its items added, read and deleted, and deleted, by its Aviary id.
    const conv = onV2!.id;
    const { data: got, response: gotRes } = await s.openai.conversations.retrieve(conv).withResponse();
    expect(got.id).toBe(conv);
    expect(gotRes.headers.get('x-aviary-model-version')).toBe('v2');
    expect(
      (await s.openai.conversations.update(conv, { metadata: { topic: 'late order' } })).metadata,
    ).toEqual({
      topic: 'late order',
    });
    const added = await s.openai.conversations.items.create(conv, {
      items: [{ type: 'message', role: 'user', content: 'one more thing' }],
    });
    const itemId = added.data[0]!.id!;
    expect((await s.openai.conversations.items.retrieve(itemId, { conversation_id: conv })).id).toBe(itemId);
    expect((await s.openai.conversations.items.delete(itemId, { conversation_id: conv })).id).toBe(conv);
    const deleted = await s.openai.conversations.delete(onV1!.id);
    expect(deleted).toMatchObject({ id: onV1!.id, deleted: true });
    await expect(s.openai.conversations.retrieve(onV1!.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const unknown = (await s.openai.conversations
      .retrieve('conv_not_from_aviary')
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.NotFoundError>;
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown.code).toBe('conversation_not_routable');
    const put = await fetch(`${s.router.url}/v1/conversations/${encodeURIComponent(conv)}/items`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${s.openai.apiKey}` },
    });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST');
    await s.rollback(id);
    // Rolled back: the candidate no longer serves the model, and its conversations are out of reach.
    await waitFor('the rollback to reach the router', async () => {
      const r = await fetch(`${s.router.url}/v1/conversations/${encodeURIComponent(conv)}`, {
        headers: { authorization: `Bearer ${s.openai.apiKey}` },
      });
      return (
        r.status === 404 &&
        ((await r.json()) as { error: { code: string } }).error.code === 'conversation_version_gone'
      );
    });
  }, 90_000);

  it('keeps threads and conversations on their version when the split grows under them', async () => {
    const id = await s.rollout([step.weight(20), step.weight(50), step.weight(100)]);
    const versionOf = (r: { headers: Headers }) => r.headers.get('x-aviary-model-version');
    const started: Array<{ conversation: string; response: string; version: string | null }> = [];
    for (let i = 0; i < 24; i++) {
      const { data: conv, response } = await s.openai.conversations.create().withResponse();
      const first = await s.openai.responses
        .create({ model: s.model, input: 'first', conversation: conv.id })
        .withResponse();
      expect(versionOf(first.response)).toBe(versionOf(response));
      started.push({ conversation: conv.id, response: first.data.id, version: versionOf(response) });
    }
    expect(started.filter((t) => t.version === 'v1').length).toBeGreaterThan(8);
    // 20 % → 50 %: bucketed again, a third of the baseline's keys would now land on the candidate,
    // whose upstream holds none of their conversations or stored responses.
    await s.promote(id);
    for (const t of started) {
      const turn = await s.openai.responses
        .create({ model: s.model, input: 'next', conversation: t.conversation })
        .withResponse();
      expect(versionOf(turn.response)).toBe(t.version);
      const followUp = await s.openai.responses
        .create({ model: s.model, input: 'and?', previous_response_id: t.response })
        .withResponse();
      expect(versionOf(followUp.response)).toBe(t.version);
      expect(followUp.data.previous_response_id).toBe(t.response);
    }
    await s.rollback(id);
  }, 90_000);

  it('shadows every endpoint the candidate serves, and compares embeddings by cosine', async () => {
    const id = await s.rollout([step.shadow(1), step.weight(100)]);
    // The candidate serves embeddings in this rollout too: a new version of the same upstream.
    const before = s.pairs.length;
    const chat = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('hi') })
      .withResponse();
    const resp = await s.openai.responses.create({ model: s.model, input: 'hello' }).withResponse();
    const comp = await s.openai.completions.create({ model: s.model, prompt: 'hello' }).withResponse();
    const emb = await s.openai.embeddings.create({ model: s.model, input: ['a', 'b'] }).withResponse();
    await waitFor('the pairs', () => s.pairs.length >= before + 3, 10_000);
    const pairOf = (r: { response: Response }) =>
      s.pairs.find((p) => p.requestId === r.response.headers.get('x-aviary-request-id'));
    expect(pairOf(chat)).toMatchObject({ endpoint: 'chat.completions' });
    expect(pairOf(resp)).toMatchObject({
      endpoint: 'responses',
      prompt: [{ role: 'user', content: 'hello' }],
    });
    expect(pairOf(comp)).toMatchObject({ endpoint: 'completions' });
    expect(pairOf(emb)).toBeUndefined(); // this candidate does not serve embeddings: not shadowed
    await s.rollback(id);
  }, 60_000);
});

describe('router endpoints: streamed shadow copies', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  }, 30_000);

  it('shadows a streamed request as a stream: the copy’s time to first token and token gaps are its own', async () => {
    await s.rollout([step.shadow(1), step.weight(100)]);
    s.candidate.setBehaviour({ latencyMs: 150, tokensPerSecond: 100 });
    const ids: string[] = [];
    const chat = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('a streamed question with several words'), stream: true })
      .withResponse();
    for await (const _ of chat.data) {
      // drain
    }
    ids.push(chat.response.headers.get('x-aviary-request-id')!);
    const resp = await s.openai.responses
      .create({ model: s.model, input: 'a streamed question with several words', stream: true })
      .withResponse();
    for await (const _ of resp.data) {
      // drain
    }
    ids.push(resp.response.headers.get('x-aviary-request-id')!);
    for (const id of ids) {
      const primary = await outcomeOf(s, id);
      const copy = await outcomeOf(s, id, 'shadow');
      expect(copy).toMatchObject({ stream: true, errorClass: null });
      expect(copy.outputChars).toBeGreaterThan(20);
      expect(copy.ttftMs!).toBeGreaterThanOrEqual(140); // the candidate's 150 ms before its first byte
      expect(copy.ttftMs!).toBeLessThan(copy.latencyMs - 20); // …and then tokens at 100/s
      expect(copy.interTokenMs!).toBeGreaterThan(5);
      expect(primary.ttftMs!).toBeLessThan(copy.ttftMs!);
      expect(copy.completionTokens).toBeGreaterThan(0); // usage asked for in the copy's stream
    }
  });
});

describe('router endpoints: embeddings in shadow', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  }, 30_000);

  it('pairs an embeddings request with the cosine of the two versions’ vectors', async () => {
    await s.rollout([step.shadow(1), step.weight(100)]);
    const pairOf = async (r: { response: Response }) => {
      const id = r.response.headers.get('x-aviary-request-id');
      await waitFor('the pair', () => s.pairs.find((p) => p.requestId === id));
      return s.pairs.find((p) => p.requestId === id)!;
    };
    const p1 = await pairOf(
      await s.openai.embeddings.create({ model: s.model, input: ['a', 'b'] }).withResponse(),
    );
    s.candidate.setBehaviour({ embeddingDrift: 3 });
    const p2 = await pairOf(
      await s.openai.embeddings.create({ model: s.model, input: ['a', 'b'] }).withResponse(),
    );
    expect(p1).toMatchObject({ endpoint: 'embeddings' });
    expect(p1.similarity).toBeGreaterThan(0.95);
    expect(p2.similarity).toBeLessThan(0.6);
    expect(p1.shadow.output).toBe('[2 embeddings of 64 dimensions]');
  });
});
