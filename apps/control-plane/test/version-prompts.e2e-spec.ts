import { decodePayloadValue } from '@aviary/flags';
import { type DemoLlm, startDemoLlm } from '@aviary/demo-llm';
import { waitFor } from '@aviary/testing';
import { fastPlan, startTestControlPlane, type TestControlPlane } from './harness';

jest.setTimeout(60_000);

interface Problem {
  errors?: { field: string; message: string }[];
}

const PROMPT_V1 = 'You are the support assistant for {{product}}.\nBe polite.\nCite the docs.';
const PROMPT_V2 = 'You are the support assistant for {{product}}.\nBe brief.\nCite the docs.';

describe('admin API: versions with prompts and parameters', () => {
  let t: TestControlPlane;
  let model: string;

  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual' });
    model = `p-${Math.random().toString(36).slice(2, 8)}`;
    await t.api('POST', '/api/v1/models', { name: model });
  });
  afterAll(async () => {
    await t?.close();
  });

  const version = (label: string, extra: Record<string, unknown> = {}) =>
    t.api<Record<string, unknown> & Problem>('POST', `/api/v1/models/${model}/versions`, {
      label,
      upstreamBaseUrl: 'http://127.0.0.1:9/v1',
      upstreamModel: 'llama-8b',
      ...extra,
    });

  it('stores a prompt template, its variables and parameters, shows them, and publishes them', async () => {
    const created = await version('v1', {
      systemPrompt: PROMPT_V1,
      promptVariables: { product: 'Aviary' },
      defaultParameters: { temperature: 0.3, stop: ['\n\n'] },
      enforcedParameters: { max_tokens: 512 },
    });
    expect(created.status).toBe(201);
    const expected = {
      systemPrompt: PROMPT_V1,
      promptVariables: { product: 'Aviary' },
      defaultParameters: { temperature: 0.3, stop: ['\n\n'] },
      enforcedParameters: { max_tokens: 512 },
    };
    expect(created.body).toMatchObject(expected);
    expect((await t.api('GET', `/api/v1/models/${model}/versions/v1`)).body).toMatchObject(expected);

    // The first version is stable: its routing flag carries the prompt to routers.
    const token = (await t.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'r', role: 'viewer' }))
      .body.token;
    const target = await waitFor('the flag with the prompt', async () => {
      const res = await fetch(`${t.url}/api/client/features`, { headers: { authorization: token } });
      const body = (await res.json()) as {
        features: { name: string; strategies: { variants: { payload: { value: string } }[] }[] }[];
      };
      const flag = body.features.find((f) => f.name === `aviary.model.${model}`);
      const value = flag?.strategies[0]?.variants[0]?.payload.value;
      return value ? decodePayloadValue(value)?.target : undefined;
    });
    expect(target.prompt).toEqual(expected);
  });

  it('registers a version without a prompt as before', async () => {
    const plain = await version('plain');
    expect(plain.status).toBe(201);
    expect(plain.body).toMatchObject({
      systemPrompt: null,
      promptVariables: {},
      defaultParameters: {},
      enforcedParameters: {},
    });
  });

  it.each([
    ['a temperature above 2', { defaultParameters: { temperature: 3 } }, 'defaultParameters.temperature'],
    ['an unknown parameter', { enforcedParameters: { temprature: 1 } }, 'enforcedParameters.temprature'],
    ['a fractional max_tokens', { enforcedParameters: { max_tokens: 1.5 } }, 'enforcedParameters.max_tokens'],
    [
      'five stop sequences',
      { defaultParameters: { stop: ['a', 'b', 'c', 'd', 'e'] } },
      'defaultParameters.stop',
    ],
    ['a placeholder that is not a variable name', { systemPrompt: 'Hi {{ 1x }}' }, 'systemPrompt'],
    ['an unclosed placeholder', { systemPrompt: 'Hi {{name' }, 'systemPrompt'],
    ['an empty prompt', { systemPrompt: '' }, 'systemPrompt'],
    ['a prompt over 8192 characters', { systemPrompt: 'x'.repeat(8193) }, 'systemPrompt'],
    ['a control character in the prompt', { systemPrompt: 'Hi\u0007' }, 'systemPrompt'],
    ['a bad variable name', { promptVariables: { 'my var': 'x' } }, 'promptVariables.my var'],
    ['a non-string variable', { promptVariables: { n: 3 } }, 'promptVariables.n'],
    [
      'variables too large for the routing flag',
      {
        systemPrompt: 'x'.repeat(8000),
        promptVariables: Object.fromEntries(
          Array.from({ length: 32 }, (_, i) => [`v${i}`, '"'.repeat(1000)]),
        ),
      },
      'promptVariables',
    ],
  ])('answers 400 naming the field for %s', async (_, extra, field) => {
    const r = await version(`bad-${Math.random().toString(36).slice(2, 8)}`, extra);
    expect(r.status).toBe(400);
    expect(r.contentType).toContain('application/problem+json');
    expect(r.body.errors?.map((e) => e.field)).toContain(field);
    // A top-level prompt field is known: the complaint is about its value (a server without prompt
    // support would name the same field as an unknown one).
    const message = r.body.errors?.find((e) => e.field === field)?.message ?? '';
    if (!field.includes('.')) expect(message).not.toBe('unknown field');
  });

  it('shows what differs between two versions: settings, parameters and the prompt line by line', async () => {
    const v2 = await version('v2', {
      systemPrompt: PROMPT_V2,
      promptVariables: { product: 'Aviary' },
      defaultParameters: { temperature: 0.3, top_p: 0.9, stop: ['\n\n'] },
      enforcedParameters: { max_tokens: 512 },
    });
    expect(v2.status).toBe(201);
    const d = await t.api('GET', `/api/v1/models/${model}/versions/v1/diff/v2`);
    expect(d.status).toBe(200);
    expect(d.body).toEqual({
      from: 'v1',
      to: 'v2',
      identical: false,
      changes: [{ field: 'defaultParameters.top_p', from: null, to: 0.9 }],
      systemPrompt: [
        { op: ' ', text: 'You are the support assistant for {{product}}.' },
        { op: '-', text: 'Be polite.' },
        { op: '+', text: 'Be brief.' },
        { op: ' ', text: 'Cite the docs.' },
      ],
    });
    const same = await t.api('GET', `/api/v1/models/${model}/versions/v1/diff/v1`);
    expect(same.body).toMatchObject({ identical: true, changes: [], systemPrompt: null });
    const upstream = await t.api<{ changes: { field: string }[] }>(
      'GET',
      `/api/v1/models/${model}/versions/plain/diff/v1`,
    );
    expect(upstream.body.changes.map((c) => c.field)).toEqual([
      'promptVariables.product',
      'defaultParameters.stop',
      'defaultParameters.temperature',
      'enforcedParameters.max_tokens',
    ]);
    const missing = await t.api('GET', `/api/v1/models/${model}/versions/v1/diff/v9`);
    expect(missing.status).toBe(404);
    expect(missing.contentType).toContain('application/problem+json');
  });

  it('documents the diff operation and the prompt fields in the OpenAPI document', async () => {
    const doc = await t.api<{
      paths: Record<string, unknown>;
      components?: unknown;
    }>('GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toContain('/api/v1/models/{model}/versions/{version}/diff/{other}');
    expect(JSON.stringify(doc.body)).toContain('enforcedParameters');
  });
});

describe('golden set of a prompt-only candidate', () => {
  let t: TestControlPlane;
  let upstream: DemoLlm;
  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'guardrails' });
    upstream = await startDemoLlm({ name: 'shared' });
  });
  afterAll(async () => {
    await upstream?.close();
    await t?.close();
  });

  it("asks the shared upstream once as the baseline and once with the candidate's prompt", async () => {
    await t.api('POST', '/api/v1/models', { name: 'golden-prompt' });
    const base = { upstreamBaseUrl: upstream.url, upstreamModel: 'shared-8b' };
    expect(
      (await t.api('POST', '/api/v1/models/golden-prompt/versions', { label: 'v1', ...base })).status,
    ).toBe(201);
    const v2 = await t.api('POST', '/api/v1/models/golden-prompt/versions', {
      label: 'v2',
      ...base,
      systemPrompt: 'Answer for {{product}} only.',
      promptVariables: { product: 'Aviary' },
      enforcedParameters: { max_tokens: 50 },
    });
    expect(v2.status).toBe(201);
    const rollout = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: 'golden-prompt',
      candidateVersion: 'v2',
      plan: fastPlan(3600),
      goldenSet: '{"id":"a","messages":[{"role":"user","content":"golden question"}]}',
    });
    expect(rollout.status).toBe(201);
    await t.api('POST', `/api/v1/rollouts/${rollout.body.id}/start`);
    const asked = () =>
      upstream
        .received()
        .filter((r) => JSON.stringify(r.body['messages']).includes('golden question'))
        .map((r) => r.body);
    await waitFor('both golden calls', () => asked().length >= 2, 15_000);
    const withSystem = asked().filter((b) => (b['messages'] as { role: string }[])[0]?.role === 'system');
    expect(withSystem).toHaveLength(1);
    expect(withSystem[0]).toMatchObject({
      messages: [
        { role: 'system', content: 'Answer for Aviary only.' },
        { role: 'user', content: 'golden question' },
      ],
      max_tokens: 50,
      temperature: 0,
    });
  });
});
