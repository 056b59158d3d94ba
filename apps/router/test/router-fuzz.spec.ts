import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { startDemoLlm, type DemoLlm } from '@aviary/demo-llm';
import { buildClientFeaturesResponse } from '@aviary/flags';
import { hashKey } from '../src/auth/router-keys';
import { loadRouterConfig } from '../src/config/router.config';
import { startRouter, type RunningRouter } from '../src/router';

/**
 * Property-based fuzzing of the router's API, seeded and bounded in time: whatever a client sends
 * to any endpoint — well-formed requests, wrong types in every field, deep nesting, huge values,
 * bytes that are not JSON, unknown paths and methods, bad keys — the answer is a 2xx (a request the
 * upstream answered) or a 4xx in OpenAI's error shape; never a 5xx, never a reset connection.
 * A real router (routing from a bootstrap file, keys from a local feed) in front of a demo model.
 */

const SEED = Number(process.env['AVIARY_FUZZ_SEED'] ?? 20261201);
const RUNS = Number(process.env['AVIARY_FUZZ_RUNS'] ?? 300);
const TIME_LIMIT_MS = Number(process.env['AVIARY_FUZZ_TIME_MS'] ?? 20_000);
const MODEL = 'fuzz-chat';
const KEY = 'avr_fuzz-key-0123456789abcdefghijklmn';
const SCOPED = 'avr_fuzz-scoped-0123456789abcdefghijk';

jest.setTimeout(TIME_LIMIT_MS * 4 + 60_000);

interface Answer {
  readonly status: number | 'reset';
  readonly body: string;
}

/** A raw HTTP exchange, so a reset connection is seen as one (fetch would hide it in a TypeError). */
function send(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer | null,
): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const req = httpRequest(
      { host: u.hostname, port: u.port, method, path, headers, agent: false, timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', () => resolve({ status: 'reset', body: '' }));
      },
    );
    req.on('error', () => resolve({ status: 'reset', body: '' }));
    req.on('timeout', () => req.destroy());
    if (body) req.end(body);
    else req.end();
  });
}

// ---- what clients send ------------------------------------------------------------------------

/** A request body; shown shortened when fast-check reports a counterexample (some are megabytes). */
class Body {
  constructor(readonly bytes: Buffer) {}
  [fc.toStringMethod](): string {
    const head = this.bytes.subarray(0, 160).toString('utf8');
    return `Body(${this.bytes.length} bytes: ${JSON.stringify(head)}${this.bytes.length > 160 ? '…' : ''})`;
  }
}

/** Any JSON value a client might put where the router expects something else. */
const junk = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 50 }),
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 5 }),
);
/** Either a plausible value or junk, or absent. */
const field = <T>(valid: fc.Arbitrary<T>) =>
  fc.option(fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: junk }), { nil: undefined });
const text = fc.string({ maxLength: 80 });
const model = fc.oneof(fc.constant(MODEL), fc.constant('other-model'), fc.string({ maxLength: 20 }));
const part = fc.oneof(
  fc.record({ type: fc.constant('text'), text }),
  fc.record({ type: fc.constant('input_text'), text }),
  fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: fc.webUrl() }) }),
);
const message = fc.record(
  {
    role: field(fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer')),
    content: field(fc.oneof(text, fc.array(part, { maxLength: 3 }))),
  },
  { requiredKeys: [] },
);
const tool = fc.record({
  type: fc.constant('function'),
  function: field(
    fc.record({
      name: fc.stringMatching(/^[a-z_]{1,12}$/),
      parameters: field(fc.constant({ type: 'object' })),
    }),
  ),
  name: field(fc.stringMatching(/^[a-z_]{1,12}$/)),
});
const format = fc.oneof(
  fc.record({ type: fc.constant('json_object') }),
  fc.record({
    type: fc.constant('json_schema'),
    json_schema: fc.record({ name: text, schema: fc.jsonValue({ maxDepth: 4 }) }),
  }),
  fc.record({ type: fc.constant('text') }),
);
const common = {
  model: field(model),
  stream: field(fc.boolean()),
  user: field(text),
  stream_options: field(fc.record({ include_usage: fc.boolean() })),
  temperature: field(fc.double({ min: 0, max: 2, noNaN: true })),
  max_tokens: field(fc.integer({ min: 1, max: 300 })),
  tools: field(fc.array(tool, { maxLength: 3 })),
  metadata: field(fc.dictionary(fc.string({ maxLength: 8 }), text, { maxKeys: 3 })),
};
const bodies: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  '/v1/chat/completions': fc.record(
    { ...common, messages: field(fc.array(message, { maxLength: 4 })), response_format: field(format) },
    { requiredKeys: [] },
  ),
  '/v1/responses': fc.record(
    {
      ...common,
      input: field(fc.oneof(text, fc.array(message, { maxLength: 3 }))),
      instructions: field(text),
      text: field(
        fc.record({
          format: field(
            fc.oneof(
              format,
              fc.record({
                type: fc.constant('json_schema'),
                name: text,
                schema: fc.jsonValue({ maxDepth: 3 }),
              }),
            ),
          ),
        }),
      ),
      previous_response_id: field(text),
    },
    { requiredKeys: [] },
  ),
  '/v1/embeddings': fc.record(
    {
      model: field(model),
      input: field(
        fc.oneof(text, fc.array(text, { maxLength: 4 }), fc.array(fc.nat(5000), { maxLength: 6 })),
      ),
      encoding_format: field(fc.constantFrom('float', 'base64')),
      dimensions: field(fc.integer({ min: 1, max: 256 })),
      stream: field(fc.boolean()),
      user: field(text),
    },
    { requiredKeys: [] },
  ),
  '/v1/completions': fc.record(
    {
      ...common,
      prompt: field(
        fc.oneof(text, fc.array(text, { maxLength: 3 }), fc.array(fc.nat(5000), { maxLength: 6 })),
      ),
    },
    { requiredKeys: [] },
  ),
  '/v1/feedback': fc.record(
    { request_id: field(text), rating: field(fc.constantFrom('up', 'down')), comment: field(text) },
    { requiredKeys: [] },
  ),
};
const apiPath = fc.constantFrom(...Object.keys(bodies));

/** Nested arrays or objects `depth` deep, around a field the router has to copy. */
const deep = fc
  .tuple(fc.integer({ min: 100, max: 30_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
  );

/** The bytes sent: a body from the endpoint's schema, or something that is not one. */
const payload = (path: string): fc.Arbitrary<Body> =>
  fc
    .oneof(
      { weight: 6, arbitrary: bodies[path]!.map((b) => Buffer.from(JSON.stringify(b))) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(bodies[path]!, deep)
          .map(([b, d]) => Buffer.from(JSON.stringify(b).replace(/^\{/, `{"deep_field":${d},`))),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
      {
        weight: 1,
        arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 100 }).map((s) => Buffer.from(s)) },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 1, max: 3 }).map((mb) =>
          Buffer.from(
            JSON.stringify({
              model: MODEL,
              messages: [{ role: 'user', content: 'x'.repeat(mb * 1024 * 1024) }],
            }),
          ),
        ),
      },
    )
    .map((bytes) => new Body(bytes));

const authHeader = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ authorization: `Bearer ${KEY}` }) },
  { weight: 1, arbitrary: fc.constant({ authorization: `Bearer ${SCOPED}` }) },
  { weight: 1, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: text.map((t) => ({ authorization: `Bearer ${t.replace(/[^\x21-\x7e]/g, 'x') || 'x'}` })),
  },
  { weight: 1, arbitrary: fc.constant({ 'x-api-key': KEY }) },
);

/** OpenAI's error shape: {"error": {"message": string, "type": string, "param": …, "code": …}}. */
function isOpenAiError(body: string): boolean {
  try {
    const e = (JSON.parse(body) as { error?: Record<string, unknown> }).error;
    return typeof e?.['message'] === 'string' && typeof e['type'] === 'string' && 'param' in e && 'code' in e;
  } catch {
    return false;
  }
}

// ---- the router under test --------------------------------------------------------------------

describe('router fuzzing (fast-check)', () => {
  let upstream: DemoLlm;
  let feed: Server;
  let router: RunningRouter;
  let dir: string;

  beforeAll(async () => {
    upstream = await startDemoLlm({ name: 'fuzz-upstream', behaviour: { padToChars: 0 } });
    dir = mkdtempSync(join(tmpdir(), 'aviary-fuzz-'));
    const target = {
      versionId: 'v-1',
      label: 'v1',
      baseUrl: upstream.url,
      upstreamModel: 'm',
      timeoutMs: 5000,
      apiKeyRef: null,
    };
    const routing = {
      model: MODEL,
      baseline: target,
      candidate: null,
      candidateWeight: 0,
      shadow: { target: { ...target, versionId: 'v-2', label: 'v2' }, sampleRate: 0.5 },
      rolloutId: null,
      stickinessGroup: MODEL,
      revision: 1,
    };
    writeFileSync(join(dir, 'flags.json'), JSON.stringify(buildClientFeaturesResponse([routing])));
    const keys = JSON.stringify({
      version: 1,
      keys: [
        {
          id: 'k-1',
          name: 'fuzz',
          hash: hashKey(KEY),
          models: null,
          requestsPerMinute: null,
          tokensPerDay: null,
        },
        {
          id: 'k-2',
          name: 'scoped',
          hash: hashKey(SCOPED),
          models: ['other-model'],
          requestsPerMinute: 1000,
          tokensPerDay: 1_000_000,
        },
      ],
    });
    feed = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(keys));
    await new Promise<void>((r) => feed.listen(0, '127.0.0.1', r));
    router = await startRouter(
      loadRouterConfig({
        AVIARY_ROUTER_PORT: '0',
        AVIARY_FLAGS_URL: 'http://127.0.0.1:9/api', // never answers: routing comes from the bootstrap file
        AVIARY_FLAGS_BOOTSTRAP_FILE: join(dir, 'flags.json'),
        AVIARY_FLAGS_BACKUP_DIR: join(dir, 'backup'),
        AVIARY_CONTROL_PLANE_URL: `http://127.0.0.1:${(feed.address() as AddressInfo).port}`,
        AVIARY_ROUTER_MAX_BODY_BYTES: String(2 * 1024 * 1024),
        AVIARY_ACCESS_LOG: 'off',
        AVIARY_LOG_LEVEL: 'error',
      }),
      { log: () => undefined, readyTimeoutMs: 3000 },
    );
  }, 60_000);
  afterAll(async () => {
    await router?.close();
    await upstream?.close();
    feed?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const answers = new Map<string, number>();
  const check = (where: string, a: Answer) => {
    answers.set(String(a.status), (answers.get(String(a.status)) ?? 0) + 1);
    if (a.status === 'reset') throw new Error(`${where}: the connection was reset`);
    if (a.status >= 500) throw new Error(`${where}: ${a.status} ${a.body.slice(0, 300)}`);
    if (a.status >= 400 && !isOpenAiError(a.body))
      throw new Error(`${where}: ${a.status} not in OpenAI's error shape: ${a.body.slice(0, 300)}`);
  };

  it('answers every request to every endpoint with a 2xx or an OpenAI-style 4xx, never a 5xx or a reset', async () => {
    await fc.assert(
      fc.asyncProperty(
        apiPath.chain((path) => fc.tuple(fc.constant(path), payload(path), authHeader)),
        async ([path, body, auth]) => {
          const a = await send(
            router.url,
            'POST',
            path,
            { 'content-type': 'application/json', ...auth },
            body.bytes,
          );
          check(`POST ${path} ${body[fc.toStringMethod]()}`, a);
        },
      ),
      { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    );
    // Both kinds of answer were exercised: the fuzzing did reach the upstream, and did get refused.
    expect([...answers.keys()].some((s) => s.startsWith('2'))).toBe(true);
    expect([...answers.keys()].some((s) => s.startsWith('4'))).toBe(true);
  });

  it('answers any method and path, and malformed headers, with an OpenAI-style 4xx or a 2xx', async () => {
    const path = fc.oneof(
      apiPath,
      fc.constantFrom(
        '/v1/models',
        `/v1/models/${MODEL}`,
        '/v1/models/%E0%A4%A',
        '/v1/',
        '/v1/images/generations',
        '/',
      ),
      fc.webPath().map((p) => `/v1${p.startsWith('/') ? p : `/${p}`}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
        path,
        authHeader,
        fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
        async (method, p, auth, contentType) => {
          const headers: Record<string, string> = { ...auth };
          if (contentType !== undefined) headers['content-type'] = contentType.replace(/[^\x20-\x7e]/g, '');
          const a = await send(router.url, method, p, headers, method === 'GET' ? null : Buffer.from('{}'));
          check(`${method} ${p}`, a);
        },
      ),
      {
        seed: SEED + 1,
        numRuns: Math.ceil(RUNS / 2),
        interruptAfterTimeLimit: TIME_LIMIT_MS / 2,
        markInterruptAsFailure: false,
      },
    );
  });
});
