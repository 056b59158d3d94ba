import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UpstreamTarget } from '@aviary/domain';
import type { DecodedRouting } from '@aviary/flags';
import { answer, routerKey, routing, target } from '../../test/proxy-fakes';
import { loadRouterConfig } from '../config/router.config';
import { RequestScope } from '../http/request-scope';
import type { CallOptions, UpstreamResponse } from '../upstream/upstream-client';
import { Conversations } from './conversations';
import { CONVERSATION_PREFIX, ThreadTags } from './thread-tags';

interface Call {
  readonly target: UpstreamTarget;
  readonly path: string;
  readonly payload: string;
  readonly opts: CallOptions;
}

describe('Conversations', () => {
  const threads = new ThreadTags(Buffer.from('unit-test-secret-0123456789'));
  const calls: Call[] = [];
  let models = ['support-chat', 'other'];
  let ready = true;
  const routed: DecodedRouting = routing({ model: 'support-chat', role: 'candidate', target: target('v2') });
  let upstreamAnswer: (c: Call) => UpstreamResponse = () =>
    answer(200, JSON.stringify({ id: 'conv_up1', object: 'conversation', created_at: 1, metadata: {} }));
  const resolvedWith: string[] = [];
  let server: Server;
  let url: string;
  let key: ReturnType<typeof routerKey> | null = null;

  beforeAll(async () => {
    const conversations = new Conversations({
      threads,
      flags: {
        resolve: (model, stickiness) => {
          resolvedWith.push(`${model} ${stickiness}`);
          return model === 'support-chat' ? routed : null;
        },
        forced: (_model, version) =>
          version === routed.target.versionId
            ? Object.assign({}, routed, { fallback: null, shadow: null })
            : null,
        models: () => models,
        status: () => ({
          ready,
          sourceReachable: true,
          lastError: null,
          lastUpdateAt: null,
          degraded: [],
        }),
      },
      upstream: {
        call: (t, path, payload, opts) => {
          const c = { target: t, path, payload, opts };
          calls.push(c);
          return Promise.resolve(upstreamAnswer(c));
        },
      },
      auth: null,
      config: loadRouterConfig({}),
      maxBodyBytes: 1024,
      forceHeader: 'x-aviary-force-version',
      forceVersionKeys: [],
    });
    server = createServer((req, res) => {
      const scope = new RequestScope(req.method ?? 'GET', (req.url ?? '/').split('?')[0]!);
      if (key) scope.key = key;
      void conversations.handle(req, res, scope);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    calls.length = 0;
    resolvedWith.length = 0;
    models = ['support-chat', 'other'];
    ready = true;
    key = null;
  });

  const send = (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, init);
  const create = (headers: Record<string, string> = {}, body = '{"metadata":{"n":"1"}}') =>
    send('/v1/conversations', { method: 'POST', headers, body });

  it('refuses to create a conversation without a model when the router routes several, naming the header', async () => {
    const res = await create();
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { param: string; code: string; message: string } };
    expect(error.param).toBe('x-aviary-model');
    expect(error.code).toBe('model_required');
    expect(error.message).toContain('`support-chat`, `other`');
    expect(calls).toHaveLength(0);
  });

  it('creates it at the version the split routes its caller to, and tags its id with that origin', async () => {
    const res = await create({ 'x-aviary-model': 'support-chat', 'x-aviary-user': 'ann' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-aviary-model-version')).toBe('v2');
    expect(res.headers.get('x-aviary-role')).toBe('candidate');
    expect(resolvedWith).toEqual(['support-chat u:ann']);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ path: '/conversations', payload: '{"metadata":{"n":"1"}}' });
    expect(calls[0]!.opts).toMatchObject({ method: 'POST', pathSuffix: '' });
    const { id } = (await res.json()) as { id: string };
    expect(threads.open(CONVERSATION_PREFIX, id)).toEqual({
      upstreamId: 'conv_up1',
      origin: { key: 'u:ann', model: 'support-chat', versionId: 'v2-id' },
    });
  });

  it('takes the model from a key scoped to one model, or from the only model routed', async () => {
    key = routerKey({ models: new Set(['support-chat']) });
    expect((await create()).status).toBe(200);
    key = null;
    models = ['support-chat'];
    expect((await create()).status).toBe(200);
    expect(resolvedWith.map((r) => r.split(' ')[0])).toEqual(['support-chat', 'support-chat']);
  });

  it('answers 404 model_not_found for a model the router does not route, 503 before it has routing', async () => {
    const res = await create({ 'x-aviary-model': 'nope' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    // Before any routing arrived: retry, not "no such model".
    ready = false;
    const early = await create({ 'x-aviary-model': 'nope' });
    expect(early.status).toBe(503);
    expect(early.headers.get('retry-after')).toBe('2');
  });

  it('sends every call on a conversation to the version that holds it, under its upstream id', async () => {
    const id = threads.tag(CONVERSATION_PREFIX, 'conv_up1', {
      key: 'r:x',
      model: 'support-chat',
      versionId: 'v2-id',
    });
    upstreamAnswer = () => answer(200, JSON.stringify({ id: 'conv_up1', object: 'conversation' }));
    const got = await send(`/v1/conversations/${encodeURIComponent(id)}?x=1`);
    expect(got.status).toBe(200);
    expect(((await got.json()) as { id: string }).id).toBe(id);
    const item = await send(`/v1/conversations/${encodeURIComponent(id)}/items/msg_9`, { method: 'DELETE' });
    expect(item.status).toBe(200);
    const added = await send(`/v1/conversations/${encodeURIComponent(id)}/items`, {
      method: 'POST',
      body: '{"items":[]}',
    });
    expect(added.status).toBe(200);
    expect(
      calls.map((c) => [c.target.label, c.opts.method, c.opts.pathSuffix, c.opts.query, c.payload]),
    ).toEqual([
      ['v2', 'GET', '/conv_up1', '?x=1', ''],
      ['v2', 'DELETE', '/conv_up1/items/msg_9', '', ''],
      ['v2', 'POST', '/conv_up1/items', '', '{"items":[]}'],
    ]);
  });

  it('sends an item id to the upstream as one path segment, never a dot segment or a slash', async () => {
    const id = threads.tag(CONVERSATION_PREFIX, 'conv_up1', {
      key: 'r:x',
      model: 'support-chat',
      versionId: 'v2-id',
    });
    // node:http with a path option sends it as written (fetch or a URL would resolve dot segments).
    const at = (item: string) =>
      new Promise<{ status: number }>((resolve, reject) =>
        request(
          {
            host: '127.0.0.1',
            port: new URL(url).port,
            path: `/v1/conversations/${encodeURIComponent(id)}/items/${item}`,
          },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0 });
          },
        )
          .on('error', reject)
          .end(),
      );
    for (const item of ['..', '%2e%2E', '.', 'a%2Fb', '%2F'])
      expect({ item, status: (await at(item)).status }).toEqual({ item, status: 404 });
    expect(calls).toHaveLength(0);
    expect((await at('msg%20one')).status).toBe(200);
    expect((await at('msg_1')).status).toBe(200);
    expect(calls.map((c) => c.opts.pathSuffix)).toEqual([
      '/conv_up1/items/msg%20one',
      '/conv_up1/items/msg_1',
    ]);
  });

  it('creates a conversation on a forced version only for a caller allowed to force one', async () => {
    const refused = await create({ 'x-aviary-model': 'support-chat', 'x-aviary-force-version': 'v2' });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'force_version_not_allowed',
    );
    key = routerKey({ mayForceVersion: true });
    const forced = await create({ 'x-aviary-model': 'support-chat', 'x-aviary-force-version': 'v2-id' });
    expect(forced.status).toBe(200);
    expect(resolvedWith).toEqual([]); // not bucketed: forced
    const unknown = await create({ 'x-aviary-model': 'support-chat', 'x-aviary-force-version': 'v9' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { param: string } }).error.param).toBe(
      'x-aviary-force-version',
    );
  });

  it('answers an id it did not hand out, or whose version is gone, with a 404 that says which', async () => {
    const foreign = await send('/v1/conversations/conv_68abc');
    expect(foreign.status).toBe(404);
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe(
      'conversation_not_routable',
    );
    const gone = threads.tag(CONVERSATION_PREFIX, 'conv_up2', {
      key: 'r:x',
      model: 'support-chat',
      versionId: 'rolled-back-id',
    });
    const res = await send(`/v1/conversations/${encodeURIComponent(gone)}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('conversation_version_gone');
    expect(calls).toHaveLength(0);
  });

  it('names the routes and methods it takes, and refuses a body over the limit', async () => {
    const unknown = await send('/v1/conversations/conv_1/nope');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain(
      'GET and POST …/items',
    );
    const wrong = await send('/v1/conversations', { method: 'GET' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    const item = await send('/v1/conversations/conv_1/items/msg_1', { method: 'POST', body: '{}' });
    expect(item.status).toBe(405);
    expect(item.headers.get('allow')).toBe('GET, DELETE');
    const big = await create(
      { 'x-aviary-model': 'support-chat' },
      JSON.stringify({ metadata: { x: 'y'.repeat(2000) } }),
    );
    expect(big.status).toBe(413);
    expect(calls).toHaveLength(0);
  });
});
