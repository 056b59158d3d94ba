import type { DemoLlm, DemoLlmReceived } from '@aviary/demo-llm';
import { waitFor } from '@aviary/testing';
import { startStack, step, type Stack } from './stack';

// Each suite starts a control plane, a router and model servers: slow on a busy machine.
jest.setTimeout(60_000);

type Message = { role: string; content: string };

/** The chat request the server received whose last message is `question`. */
function receivedFor(server: DemoLlm, question: string): Readonly<Record<string, unknown>> | undefined {
  return server
    .received()
    .filter((r: DemoLlmReceived) => r.kind === 'chat')
    .map((r) => r.body)
    .find((b) => (b['messages'] as Message[]).at(-1)?.content === question);
}

const systemOf = (body: Readonly<Record<string, unknown>> | undefined) =>
  (body?.['messages'] as Message[] | undefined)?.filter((m) => m.role === 'system').map((m) => m.content);

describe('router: version prompts and parameters', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(
      {},
      {
        baselineVersion: {
          systemPrompt: 'You are v1, helping the {{team}} team.',
          promptVariables: { team: 'support' },
          defaultParameters: { temperature: 0.5, max_tokens: 300 },
        },
        candidateVersion: {
          systemPrompt: 'You are v2. Be brief.',
          defaultParameters: { top_p: 0.8 },
          enforcedParameters: { max_tokens: 77 },
        },
      },
    );
  });
  afterAll(async () => {
    await s?.close();
  });

  it("sends each upstream its own version's prompt and parameters, the shadow copy included", async () => {
    const id = await s.rollout([step.shadow(1), step.weight(100)]);
    const question = 'How do refunds work?';
    const { data, response } = await s.openai.chat.completions
      .create({
        model: s.model,
        messages: [{ role: 'user', content: question }],
        temperature: 1.2,
        metadata: { team: 'billing' },
        user: 'u-1',
      })
      .withResponse();
    expect(response.headers.get('x-aviary-model-version')).toBe('v1');
    expect(data.choices[0]?.message.content).toContain('Answer from baseline');

    const served = receivedFor(s.baseline, question);
    expect(systemOf(served)).toEqual(['You are v1, helping the billing team.']);
    expect(served).toMatchObject({ model: 'base-8b', temperature: 1.2, max_tokens: 300 });
    expect(served).not.toHaveProperty('top_p');

    await waitFor('the shadow copy', () => receivedFor(s.candidate, question));
    const shadow = receivedFor(s.candidate, question);
    expect(systemOf(shadow)).toEqual(['You are v2. Be brief.']);
    expect(shadow).toMatchObject({ model: 'cand-8b', temperature: 1.2, top_p: 0.8, max_tokens: 77 });
    const requestId = response.headers.get('x-aviary-request-id');
    await waitFor('the pair', () => s.pairs.find((p) => p.requestId === requestId));
    // The pair records the user's conversation, which both versions answered, not either system prompt.
    expect(s.pairs.find((p) => p.requestId === requestId)?.prompt).toEqual([
      { role: 'user', content: question },
    ]);

    await s.promote(id);
    const later = 'And exchanges?';
    const r2 = await s.openai.chat.completions
      .create({ model: s.model, messages: [{ role: 'user', content: later }], max_tokens: 1000 })
      .withResponse();
    expect(r2.response.headers.get('x-aviary-model-version')).toBe('v2');
    const candidateServed = receivedFor(s.candidate, later);
    expect(systemOf(candidateServed)).toEqual(['You are v2. Be brief.']);
    // Enforced: the request's 1000 is replaced.
    expect(candidateServed).toMatchObject({ max_tokens: 77, top_p: 0.8 });
    await s.rollback(id);
  });

  it("puts the version's prompt before the Responses API request's own instructions", async () => {
    const r = await s.openai.responses.create({
      model: s.model,
      instructions: 'Answer in French.',
      input: 'Bonjour?',
      metadata: { team: 'sales' },
    });
    expect(r.status).toBe('completed');
    const body = s.baseline
      .received()
      .filter((x) => x.kind === 'responses')
      .at(-1)?.body;
    expect(body).toMatchObject({
      instructions: 'You are v1, helping the sales team.\n\nAnswer in French.',
      temperature: 0.5,
      max_output_tokens: 300,
    });
    expect(body).not.toHaveProperty('max_tokens');
  });
});

describe('router: a prompt-only rollout (same upstream, different prompt)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(
      {},
      { sameUpstream: true, candidateVersion: { systemPrompt: 'Answer in one sentence.' } },
    );
  });
  afterAll(async () => {
    await s?.close();
  });

  it('shadows the new prompt against the current one, then splits users between them', async () => {
    const id = await s.rollout([step.shadow(1), step.weight(50), step.weight(100)]);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { response } = await s.openai.chat.completions
        .create({ model: s.model, messages: [{ role: 'user', content: `shadowed ${i}` }], user: `s${i}` })
        .withResponse();
      expect(response.headers.get('x-aviary-model-version')).toBe('v1');
      ids.push(response.headers.get('x-aviary-request-id')!);
    }
    await waitFor('a pair per request', () => ids.every((r) => s.pairs.some((p) => p.requestId === r)));
    for (const requestId of ids) {
      const pair = s.pairs.find((p) => p.requestId === requestId)!;
      expect(pair.baseline.versionLabel).toBe('v1');
      expect(pair.shadow.versionLabel).toBe('v2');
      expect(pair.shadow.status).toBe(200);
    }
    // One server got both copies of each request: the served one as it came, the shadow with v2's prompt.
    const bodies = s.baseline.received().filter((r) => r.kind === 'chat');
    for (let i = 0; i < 6; i++) {
      const copies = bodies.filter(
        (r) => (r.body['messages'] as Message[]).at(-1)?.content === `shadowed ${i}`,
      );
      expect(copies.map((c) => systemOf(c.body)).sort()).toEqual([[], ['Answer in one sentence.']]);
    }
    expect(s.candidate.stats().requests).toBe(0);

    await s.promote(id);
    const byVersion = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const question = `canary ${i}`;
      const { response } = await s.openai.chat.completions
        .create({ model: s.model, messages: [{ role: 'user', content: question }], user: `c${i}` })
        .withResponse();
      const version = response.headers.get('x-aviary-model-version')!;
      byVersion.set(version, (byVersion.get(version) ?? 0) + 1);
      const expected = version === 'v2' ? ['Answer in one sentence.'] : [];
      expect(systemOf(receivedFor(s.baseline, question))).toEqual(expected);
    }
    // 50 % of 40 distinct users: both versions serve (binomial, far from 0 or 40).
    expect(byVersion.get('v1')).toBeGreaterThan(5);
    expect(byVersion.get('v2')).toBeGreaterThan(5);
    await s.rollback(id);
  });
});
