import { randomBytes } from 'node:crypto';
import type { DemoLlm } from '@aviary/demo-llm';
import { loadTracingConfig, startTracing, type Tracing } from '@aviary/observability';
import {
  lineCapture,
  type OtlpCollector,
  type ReceivedSpan,
  startOtlpCollector,
  waitFor,
} from '@aviary/testing';
import { ADMIN_TOKEN, startTestControlPlane } from '@aviary/control-plane/testing';
import { rest, startStack, step, type Stack } from './stack';

// Each suite starts a control plane, a router and model servers: slow on a busy machine.
jest.setTimeout(90_000);

const SERVER = 2; // OTLP SpanKind
const CLIENT = 3;
const ERROR = 2; // OTLP status code

const ask = (content: string) => [{ role: 'user' as const, content }];
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** The `traceparent` the upstream received with the request whose last message is `question`. */
function traceparentAt(server: DemoLlm, question: string): string | undefined {
  const r = server
    .received()
    .find((x) => (x.body['messages'] as Array<{ content: string }>).at(-1)?.content === question);
  return r?.traceparent;
}

// First in the file: nestjs-pino keeps one root logger per process, the first control plane's.
describe('control-plane logs while tracing', () => {
  it("puts the request's trace id on the control plane's log lines", async () => {
    const { lines, output } = lineCapture();
    const collector = await startOtlpCollector();
    const tracing = await startTracing(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }), {
      service: 'aviary-e2e',
    });
    const cp = await startTestControlPlane(
      { AVIARY_LOG_LEVEL: 'info', AVIARY_LOG_FORMAT: 'json' },
      { logDestination: output },
    );
    try {
      const traceId = hex(16);
      const res = await fetch(`${cp.url}/api/v1/models/nope`, {
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          'x-request-id': 'req-traced-1',
          traceparent: `00-${traceId}-${hex(8)}-01`,
        },
      });
      expect(res.status).toBe(404);
      const line = await waitFor('the request line', () =>
        lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r['reqId'] === 'req-traced-1'),
      );
      expect(line['traceId']).toBe(traceId);
      const span = await waitFor('its span', async () => {
        await tracing.flush();
        return collector.spans().find((x) => x.traceId === traceId && x.kind === SERVER);
      });
      expect(span).toMatchObject({
        name: 'GET /api/v1/models/:model',
        attributes: { 'aviary.request_id': 'req-traced-1', 'http.response.status_code': 404 },
      });
      expect(span.statusCode).not.toBe(ERROR);
    } finally {
      await cp.close();
      await tracing.shutdown();
      await collector.close();
    }
  });
});

describe('router tracing when OTEL_EXPORTER_OTLP_ENDPOINT is unset', () => {
  let collector: OtlpCollector;
  let tracing: Tracing;
  let s: Stack;
  beforeAll(async () => {
    collector = await startOtlpCollector();
    // Only the collector's address is not given to tracing; and a disabled SDK stays off even with it.
    expect(
      loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SDK_DISABLED: 'true' }).tracesUrl,
    ).toBeNull();
    tracing = await startTracing(loadTracingConfig({ OTEL_SERVICE_NAME: 'aviary-e2e' }), {
      service: 'aviary-e2e',
    });
    s = await startStack();
  });
  afterAll(async () => {
    await s?.close();
    await tracing?.shutdown();
    await collector?.close();
  });

  it('sends no spans and no traceparent upstream, and still serves and shadows', async () => {
    expect(tracing.enabled).toBe(false);
    await s.rollout([step.shadow(1), ...rest]);
    const question = 'untraced question';
    const { response } = await s.openai.chat.completions
      .create(
        { model: s.model, messages: ask(question), user: 'u-off' },
        { headers: { traceparent: `00-${hex(16)}-${hex(8)}-01` } },
      )
      .withResponse();
    expect(response.status).toBe(200);
    await waitFor('the shadow copy', () => s.candidate.received().length > 0);
    expect(traceparentAt(s.baseline, question)).toBeUndefined();
    expect(traceparentAt(s.candidate, question)).toBeUndefined();
    await tracing.flush();
    await new Promise((r) => setTimeout(r, 300));
    expect(collector.requests()).toBe(0);
  });
});

describe('router and control plane tracing over OTLP/HTTP', () => {
  let collector: OtlpCollector;
  let tracing: Tracing;
  let s: Stack;
  beforeAll(async () => {
    collector = await startOtlpCollector();
    tracing = await startTracing(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }), {
      service: 'aviary-e2e',
    });
    s = await startStack();
  });
  afterAll(async () => {
    await s?.close();
    await tracing?.shutdown();
    await collector?.close();
  });

  /** Flushes the exporter and waits until a span matching `pick` has arrived. */
  const spanWhere = async (what: string, pick: (s: ReceivedSpan) => boolean) => {
    return waitFor(what, async () => {
      await tracing.flush();
      return collector.spans().find(pick);
    });
  };
  const childrenOf = (parent: ReceivedSpan) =>
    collector.spans().filter((c) => c.traceId === parent.traceId && c.parentSpanId === parent.spanId);

  let rolloutId: string;

  it('continues the caller’s trace through route decision, upstream call and shadow copy', async () => {
    expect(tracing.enabled).toBe(true);
    rolloutId = await s.rollout([step.shadow(1), step.weight(50), ...rest]);
    // The shadow copy is slow: its span must end after the user's answer, not with it.
    s.candidate.setBehaviour({ latencyMs: 300 });
    const traceId = hex(16);
    const callerSpan = hex(8);
    const question = 'traced question';
    const { data, response } = await s.openai.chat.completions
      .create(
        { model: s.model, messages: ask(question), user: 'u-trace' },
        { headers: { traceparent: `00-${traceId}-${callerSpan}-01` } },
      )
      .withResponse();
    const requestId = response.headers.get('x-aviary-request-id');

    const server = await spanWhere(
      'the request span',
      (x) => x.traceId === traceId && x.kind === SERVER && x.scope === 'aviary-router',
    );
    const shadow = await spanWhere(
      'the shadow span',
      (x) => x.traceId === traceId && x.attributes['aviary.role'] === 'shadow',
    );
    expect(server).toMatchObject({
      name: 'POST /v1/chat/completions',
      parentSpanId: callerSpan,
      service: 'aviary-e2e',
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/v1/chat/completions',
        'http.response.status_code': 200,
        'aviary.request_id': requestId,
        'aviary.model': s.model,
        'aviary.version': 'v1',
        'aviary.role': 'baseline',
      },
    });
    expect(server.statusCode).not.toBe(ERROR);

    const children = childrenOf(server);
    const route = children.find((c) => c.name === 'aviary.route');
    expect(route?.attributes).toMatchObject({
      'aviary.model': s.model,
      'aviary.version': 'v1',
      'aviary.role': 'baseline',
      'aviary.rollout.id': rolloutId,
      'aviary.shadow.version': 'v2',
      'aviary.candidate_weight': 0,
    });
    expect(route?.attributes['aviary.rollout.revision']).toEqual(expect.any(Number));
    expect(route?.attributes['aviary.bucket']).toEqual(expect.any(Number));

    const upstream = children.find((c) => c.kind === CLIENT && c.attributes['aviary.role'] === 'baseline');
    expect(upstream).toMatchObject({
      name: 'chat base-8b',
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'base-8b',
        'gen_ai.response.model': data.model,
        'gen_ai.usage.input_tokens': data.usage?.prompt_tokens,
        'gen_ai.usage.output_tokens': data.usage?.completion_tokens,
        'gen_ai.response.finish_reasons': [data.choices[0]?.finish_reason],
        'http.response.status_code': 200,
        'server.address': '127.0.0.1',
      },
    });
    // The upstream call carries the trace on: its parent is the router's upstream span.
    expect(traceparentAt(s.baseline, question)).toBe(`00-${traceId}-${upstream!.spanId}-01`);

    expect(shadow).toMatchObject({
      name: 'chat cand-8b',
      kind: CLIENT,
      parentSpanId: server.spanId,
      attributes: {
        'gen_ai.request.model': 'cand-8b',
        'gen_ai.usage.output_tokens': expect.any(Number) as number,
        'aviary.version': 'v2',
      },
    });
    expect(shadow.endMs).toBeGreaterThan(server.endMs);
    expect(traceparentAt(s.candidate, question)).toBe(`00-${traceId}-${shadow.spanId}-01`);
  });

  it('ends a streamed answer’s upstream span at the end of the stream, with its model and usage', async () => {
    s.candidate.setBehaviour({ latencyMs: 0 });
    const { data: stream, response } = await s.openai.chat.completions
      .create({
        model: s.model,
        messages: ask('a streamed question'),
        user: 'u-stream',
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    let model = '';
    let finish: string | null = null;
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    for await (const chunk of stream) {
      model ||= chunk.model;
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect([model, finish, usage?.completion_tokens]).toEqual([
      expect.stringMatching(/./),
      'stop',
      expect.any(Number),
    ]);
    const requestId = response.headers.get('x-aviary-request-id');
    const server = await spanWhere(
      'the streamed request span',
      (x) => x.kind === SERVER && x.attributes['aviary.request_id'] === requestId,
    );
    const upstream = childrenOf(server).find(
      (c) => c.kind === CLIENT && c.attributes['aviary.role'] === 'baseline',
    );
    expect(upstream?.attributes).toMatchObject({
      'gen_ai.response.model': model,
      'gen_ai.response.finish_reasons': [finish],
      'gen_ai.usage.input_tokens': usage?.prompt_tokens,
      'gen_ai.usage.output_tokens': usage?.completion_tokens,
    });
    expect(upstream!.endMs).toBeLessThanOrEqual(server.endMs + 50);
  });

  it('makes an admin API action and its flag publish one trace', async () => {
    await s.promote(rolloutId);
    const request = await spanWhere(
      'the promote request span',
      (x) => x.name === 'POST /api/v1/rollouts/:id/promote' && x.scope === 'aviary-control-plane',
    );
    expect(request).toMatchObject({
      kind: SERVER,
      parentSpanId: '',
      attributes: { 'http.response.status_code': 200 },
    });
    const publish = await spanWhere(
      'the flag publish span',
      (x) => x.name === 'aviary.flag_publish' && x.traceId === request.traceId,
    );
    expect(publish).toMatchObject({
      parentSpanId: request.spanId,
      attributes: {
        'aviary.model': s.model,
        'aviary.rollout.id': rolloutId,
        'aviary.candidate_weight': 50,
        'aviary.flag.outcome': 'success',
      },
    });
  });

  it('marks a failing candidate call as an error and traces the fallback beside it', async () => {
    s.candidate.setBehaviour({ latencyMs: 0, errorRate: 1 });
    let served: ReceivedSpan | undefined;
    for (let i = 0; i < 60 && !served; i++) {
      const { response } = await s.openai.chat.completions
        .create({ model: s.model, messages: ask(`fallback ${i}`), user: `u-${i}` })
        .withResponse();
      const requestId = response.headers.get('x-aviary-request-id');
      if (response.headers.get('x-aviary-role') !== 'baseline') continue;
      const span = await spanWhere(
        'a request span',
        (x) => x.kind === SERVER && x.attributes['aviary.request_id'] === requestId,
      );
      const tried = childrenOf(span).filter((c) => c.kind === CLIENT);
      if (tried.some((c) => c.attributes['aviary.role'] === 'candidate')) served = span;
    }
    expect(served).toBeDefined();
    const [candidate, baseline] = childrenOf(served!)
      .filter((c) => c.kind === CLIENT)
      .sort((a, b) => a.startMs - b.startMs);
    expect(candidate).toMatchObject({
      name: 'chat cand-8b',
      statusCode: ERROR,
      attributes: {
        'aviary.role': 'candidate',
        'error.type': 'upstream_5xx',
        'http.response.status_code': 500,
      },
    });
    expect(baseline).toMatchObject({
      name: 'chat base-8b',
      attributes: { 'aviary.role': 'baseline', 'http.response.status_code': 200 },
    });
    expect(baseline!.statusCode).not.toBe(ERROR);
    expect(served!.statusCode).not.toBe(ERROR);
    const route = childrenOf(served!).find((c) => c.name === 'aviary.route');
    expect(route?.attributes).toMatchObject({ 'aviary.role': 'candidate', 'aviary.candidate_weight': 50 });
    // The router's log line about the failure names the request and its trace.
    expect(
      s.logs.find((l) => l.fields?.['requestId'] === served!.attributes['aviary.request_id']),
    ).toMatchObject({
      level: 'debug',
      fields: { traceId: served!.traceId, role: 'candidate', errorClass: 'upstream_5xx', model: s.model },
    });
  });
});
