import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TOPICS, type OutcomeEvent, type PairEvent } from '@aviary/contracts';
import { RefusalDetector, type EventPublisher, type UpstreamTarget } from '@aviary/domain';
import type { DecodedRouting } from '@aviary/flags';
import type { RouterKey } from '../src/auth/router-keys';
import { loadRouterConfig } from '../src/config/router.config';
import type { EndpointAdapter, ProxiedRequest } from '../src/endpoints/endpoint';
import { RequestScope } from '../src/http/request-scope';
import { EvidenceRecorder } from '../src/evidence/evidence-recorder';
import { RouterMetrics } from '../src/evidence/router-metrics';
import { RequestIds } from '../src/feedback/request-id';
import { ShadowRunner } from '../src/shadow/shadow-runner';
import { ConcurrencyLimiter, LimiterRegistry } from '../src/upstream/concurrency-limiter';
import { RateLimiter } from '../src/upstream/rate-limiter';
import { type CallOptions, UpstreamError, type UpstreamResponse } from '../src/upstream/upstream-client';
import { ProxyHandler } from '../src/serving/proxy-handler';
import { ThreadTags } from '../src/threads/thread-tags';

/** Fakes for unit tests of the proxy flow: no network beyond a local node:http server. */

export const target = (label: string, extra: Partial<UpstreamTarget> = {}): UpstreamTarget => ({
  versionId: `${label}-id`,
  label,
  baseUrl: `http://${label}.test/v1`,
  upstreamModel: `${label}-model`,
  timeoutMs: 1000,
  apiKeyRef: null,
  ...extra,
});

export const routing = (over: Partial<DecodedRouting> = {}): DecodedRouting => ({
  v: 1,
  role: 'baseline',
  model: 'm',
  target: target('v1'),
  rolloutId: '00000000-0000-4000-8000-000000000001',
  revision: 3,
  candidateWeight: 0,
  shadow: null,
  fallback: null,
  ...over,
});

/** An upstream answer as the UpstreamClient hands it over. */
export function answer(
  status: number,
  chunks: string | string[],
  contentType = 'application/json',
  opts: { failAfter?: UpstreamError } = {},
): UpstreamResponse {
  const parts = (Array.isArray(chunks) ? chunks : [chunks]).map((c) => Buffer.from(c));
  const [first, ...rest] = parts;
  return {
    status,
    headers: { 'content-type': contentType },
    startedAt: performance.now(),
    ttfbMs: 1.5,
    first: first ?? null,
    rest: {
      async *[Symbol.asyncIterator]() {
        for (const c of rest) yield await Promise.resolve(c);
        if (opts.failAfter) throw opts.failAfter;
      },
    },
    body: () => (opts.failAfter ? Promise.reject(opts.failAfter) : Promise.resolve(Buffer.concat(parts))),
    abort: () => undefined,
  };
}

export const chatAnswer = (content: string, usage = { prompt_tokens: 7, completion_tokens: 3 }) =>
  JSON.stringify({ object: 'chat.completion', choices: [{ index: 0, message: { content } }], usage });

type Script = (payload: string, opts: CallOptions) => Promise<UpstreamResponse> | UpstreamResponse;

export class FakeUpstream {
  readonly calls: Array<{ target: UpstreamTarget; path: string; payload: Record<string, unknown> }> = [];
  private readonly scripts = new Map<string, Script>();

  /** What the version with this label answers. */
  on(label: string, script: Script): this {
    this.scripts.set(label, script);
    return this;
  }

  async call(
    target: UpstreamTarget,
    path: string,
    payload: string,
    opts: CallOptions,
  ): Promise<UpstreamResponse> {
    this.calls.push({ target, path, payload: JSON.parse(payload) as Record<string, unknown> });
    const script = this.scripts.get(target.label);
    try {
      if (!script) throw new UpstreamError('connect', `no script for ${target.label}`);
      const res = await script(payload, opts);
      if (res.status >= 500)
        throw new UpstreamError('upstream_5xx', `upstream answered ${res.status}`, res.status);
      return res;
    } finally {
      opts.onDone?.();
    }
  }
}

export class CapturingEvents implements EventPublisher {
  readonly name = 'capture';
  readonly outcomes: OutcomeEvent[] = [];
  readonly pairs: PairEvent[] = [];
  publish(topic: string, _key: string, value: unknown): boolean {
    if (topic === TOPICS.outcomes) this.outcomes.push(value as OutcomeEvent);
    if (topic === TOPICS.pairs) this.pairs.push(value as PairEvent);
    return true;
  }
  stats() {
    return { buffered: 0, dropped: 0, published: this.outcomes.length, healthy: true };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface ProxyRig {
  readonly url: string;
  readonly upstream: FakeUpstream;
  readonly events: CapturingEvents;
  readonly metrics: RouterMetrics;
  readonly ids: RequestIds;
  readonly rateLimiter: RateLimiter;
  routing: DecodedRouting | null;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Resolves once the evidence of everything sent so far is out (setImmediate hops). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** A ProxyHandler behind a local server, with a fake upstream and flag source. */
export async function startProxyRig(
  endpoints: Record<string, EndpointAdapter<ProxiedRequest>>,
  opts: {
    maxConcurrency?: number;
    maxQueue?: number;
    shadowCap?: number;
    rateLimitPerMinute?: number;
    env?: Record<string, string>;
    /** The router key every request is made with (no authentication step here). */
    key?: RouterKey;
  } = {},
): Promise<ProxyRig> {
  const config = loadRouterConfig({ AVIARY_ROUTER_MAX_BODY_BYTES: String(64 * 1024), ...opts.env });
  const upstream = new FakeUpstream();
  const events = new CapturingEvents();
  const rig = { routing: routing() as DecodedRouting | null };
  const flags = {
    resolve: () => rig.routing,
    // As FlagRouting's: the routed version or its fallback (the baseline), by label or id.
    forced: (_model: string, version: string) => {
      const r = rig.routing;
      const is = (t: UpstreamTarget | null | undefined) =>
        t && (t.label === version || t.versionId === version);
      if (is(r?.target)) return { ...r!, fallback: null, shadow: null };
      if (is(r?.fallback))
        return { ...r!, role: 'baseline' as const, target: r!.fallback!, fallback: null, shadow: null };
      return null;
    },
    status: () => ({ ready: true, sourceReachable: true, lastError: null, lastUpdateAt: null, degraded: [] }),
  };
  const limiters = new LimiterRegistry(
    () => new ConcurrencyLimiter(opts.maxConcurrency ?? 8, opts.maxQueue ?? 0, 1000),
  );
  const metrics = new RouterMetrics({ events, flags, limiters });
  const ids = new RequestIds(Buffer.from('unit-test-secret-0123456789'));
  const threads = new ThreadTags(Buffer.from('unit-test-secret-0123456789'));
  const evidence = new EvidenceRecorder({
    events,
    metrics,
    refusals: new RefusalDetector(),
    captureSampleRate: 1,
    capturePrompts: 'keep',
    captureMaxChars: config.AVIARY_CAPTURE_MAX_CHARS,
  });
  const shadow = new ShadowRunner({
    upstream,
    limiter: new ConcurrencyLimiter(opts.shadowCap ?? 4, 0, 1),
    evidence,
    metrics,
    limits: config,
  });
  const rateLimiter = new RateLimiter(opts.rateLimitPerMinute ?? 0);
  const proxy = new ProxyHandler({
    config,
    flags,
    upstream,
    limiters,
    rateLimiter,
    evidence,
    metrics,
    ids,
    threads,
    shadow,
    auth: null,
  });
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const endpoint = endpoints[(req.url ?? '').split('?')[0] ?? ''];
    if (!endpoint) {
      res.writeHead(404).end();
      return;
    }
    const scope = new RequestScope(req.method ?? 'POST', req.url ?? '/');
    if (opts.key) scope.key = opts.key;
    proxy.handle(endpoint, req, res, scope).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(rig, {
    url,
    upstream,
    events,
    metrics,
    ids,
    rateLimiter,
    post: (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    settle: async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

/** A router key as the control plane hands it out: no scope, no limits, unless `over` says so. */
export function routerKey(over: Partial<RouterKey> = {}): RouterKey {
  return Object.assign(
    {
      id: 'k1',
      name: 'app',
      models: null,
      requestsPerMinute: null,
      tokensPerDay: null,
      mayForceVersion: false,
    },
    over,
  );
}
