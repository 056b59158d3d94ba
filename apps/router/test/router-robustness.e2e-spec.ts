import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { startDemoLlmProcess, waitFor, type DemoLlmProcess } from '@aviary/testing';
import { startStack, step, type Stack } from './stack';

// Each suite starts a control plane, a router and model servers: slow on a busy machine.
jest.setTimeout(60_000);

const ask = (content: string) => [{ role: 'user' as const, content }];
const metric = async (s: Stack, name: string) => {
  const text = await (await fetch(`${s.router.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : 0;
};

describe('router robustness: what upstreams answer', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(
      {},
      {
        baselineVersion: { totalTimeoutMs: 2000 },
        candidateVersion: { maxResponseBytes: 64 * 1024 },
      },
    );
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  }, 30_000);
  const afterThis: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    s.baseline.setBehaviour('fine');
    s.candidate.setBehaviour('fine');
    for (const undo of afterThis.splice(0)) await undo();
  });

  it('answers 502 when an answer is larger than the version allows', async () => {
    const id = await s.rollout([step.weight(100)]);
    afterThis.push(() => s.rollback(id));
    s.candidate.setBehaviour({ padToChars: 1024 * 1024 });
    s.baseline.setBehaviour({ errorRate: 1 }); // no fallback to hide it: the candidate's failure is after its first byte
    const res = await s.post(
      '/v1/chat/completions',
      JSON.stringify({ model: s.model, messages: ask('big'), user: 'someone' }),
    );
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_response_too_large' } });
    expect(res.headers.get('x-aviary-request-id')).toMatch(/^avy-/);
  });

  it('gives up on a non-streamed answer that keeps dripping, at the version’s total deadline', async () => {
    s.baseline.setBehaviour({ dripIntervalMs: 300 }); // 16 slices: 4.5 s in all
    const started = Date.now();
    const err = await s.openai.chat.completions
      .create({ model: s.model, messages: ask('drip') })
      .catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3500);
  });
});

describe('router robustness: a 20 MB shadow answer', () => {
  // The candidate runs in a process of its own: an in-process server building and writing a 20 MB
  // answer stops this process's event loop, router and client included, which is not what a
  // router's users wait for (CI measured a 64 ms median behind it on a busy machine).
  let candidate: DemoLlmProcess;
  let s: Stack;
  beforeAll(async () => {
    candidate = await startDemoLlmProcess({ name: 'candidate', seed: 2 });
    s = await startStack(
      { AVIARY_SHADOW_MAX_RESPONSE_BYTES: String(256 * 1024) },
      { candidateUrl: candidate.url },
    );
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await candidate?.close();
  }, 30_000);
  const afterThis: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const undo of afterThis.splice(0)) await undo();
  });

  it('stops reading a 20 MB shadow answer at the cap, and the users of the baseline do not wait for it', async () => {
    const id = await s.rollout([step.shadow(1), step.weight(100)]);
    afterThis.push(() => s.rollback(id));
    const medianLatency = async (label: string) => {
      const latencies: number[] = [];
      for (let i = 0; i < 12; i++) {
        const shadows = s.outcomes.filter((o) => o.role === 'shadow').length;
        const t = performance.now();
        await s.openai.chat.completions.create({
          model: s.model,
          messages: ask(`${label} ${i}`),
          user: `u${i}`,
        });
        latencies.push(performance.now() - t);
        // Let the copy of this request end before the next one, as a user's next message would.
        await waitFor(
          `the shadow copy of ${label} ${i}`,
          () => s.outcomes.filter((o) => o.role === 'shadow').length > shadows,
          15_000,
          5,
        );
      }
      return latencies.sort((x, y) => x - y)[6]!;
    };
    const normal = await medianLatency('normal shadow');
    await candidate.setBehaviour({ padToChars: 20 * 1024 * 1024 });
    const shadowed = s.outcomes.filter((o) => o.role === 'shadow').length;
    const big = await medianLatency('20 MB shadow');
    await waitFor(
      'the shadow outcomes',
      () => s.outcomes.filter((o) => o.role === 'shadow').length >= shadowed + 12,
      20_000,
    );
    const shadows = s.outcomes.filter((o) => o.role === 'shadow').slice(shadowed);
    expect(shadows.every((o) => o.errorClass === 'invalid_response')).toBe(true);
    process.stdout.write(
      `baseline median latency: ${normal.toFixed(1)} ms with a normal shadow, ${big.toFixed(1)} ms with a 20 MB one\n`,
    );
    expect(big).toBeLessThan(normal * 2 + 25);
  }, 60_000);
});

describe('router robustness: what clients send', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  }, 30_000);

  it('answers valid JSON with a 20,000-deep field with a 400 naming the field, not a reset connection', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const res = await s.post(
      '/v1/chat/completions',
      `{"model":"${s.model}","messages":[{"role":"user","content":"hi"}],"metadata_x":${deep}}`,
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { type: 'invalid_request_error', param: 'metadata_x', code: 'nesting_too_deep' },
    });
  });

  it('answers headers over node’s limit with a 431 an OpenAI SDK can read, with a request id', async () => {
    const client = new OpenAI({
      baseURL: `${s.router.url}/v1`,
      apiKey: s.key,
      maxRetries: 0,
      defaultHeaders: { 'x-aviary-user': 'u'.repeat(20_000) },
    });
    const err = (await client.chat.completions.create({ model: s.model, messages: ask('hi') }).then(
      () => null,
      (e: unknown) => e,
    )) as InstanceType<typeof OpenAI.APIError> | null;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err?.status).toBe(431);
    expect(err?.code).toBe('request_headers_too_large');
    expect(err?.headers?.get('x-aviary-request-id')).toMatch(/^avy-/);
    expect(s.logs.some((l) => l.level === 'debug' && l.message.includes('answered 431'))).toBe(true);
  });

  it('counts a client that aborts its upload and logs it at debug, not as an error', async () => {
    const before = await metric(s, 'aviary_router_client_aborts_total{stage="upload"}');
    const url = new URL(`${s.router.url}/v1/chat/completions`);
    await new Promise<void>((resolve) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-length': '100000', ...s.auth },
        },
        () => resolve(),
      );
      req.on('error', () => resolve());
      req.write('{"model":"x","messages":[');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    await waitFor(
      'the abort to be counted',
      async () => (await metric(s, 'aviary_router_client_aborts_total{stage="upload"}')) > before,
    );
    expect(s.logs.filter((l) => l.level === 'error')).toEqual([]);
    expect(
      s.logs.some((l) => l.level === 'debug' && l.message.includes('before sending its whole request')),
    ).toBe(true);
  });
});
