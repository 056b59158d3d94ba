import { randomBytes } from 'node:crypto';
import { safeDecode } from './http/path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import type { EventPublisher } from '@aviary/domain';
import { TOPICS } from '@aviary/contracts';
import { answerClientErrors } from '@aviary/http';
import { ensureTopics, InProcessEventBus, KafkaEventPublisher, kafkaSecurity } from '@aviary/kafka';
import { RefusalDetector } from '@aviary/domain';
import { allows, ClientAuth, isFailure } from './auth/client-auth';
import { KeyLimits } from './auth/key-limits';
import { KeyUsageReporter } from './auth/key-usage-reporter';
import { RouterKeys } from './auth/router-keys';
import type { RouterConfig } from './config/router.config';
import { chatCompletions } from './endpoints/chat-completions';
import { completions } from './endpoints/completions';
import { embeddings } from './endpoints/embeddings';
import type { EndpointAdapter, ProxiedRequest } from './endpoints/endpoint';
import { responses } from './endpoints/responses';
import { EvidenceRecorder } from './evidence/evidence-recorder';
import { RouterMetrics } from './evidence/router-metrics';
import { FeedbackHandler } from './feedback/feedback-handler';
import { RequestIds } from './feedback/request-id';
import { CONVERSATIONS_PATH, Conversations } from './threads/conversations';
import { STORED_RESPONSES_PREFIX, StoredResponses } from './threads/stored-responses';
import { ThreadTags } from './threads/thread-tags';
import { AccessLog } from './http/access-log';
import { Cors } from './http/cors';
import { openAiClientError, sendAnswer, sendError, sendModelNotFound } from './http/openai-errors';
import { ClientAbortedError } from './http/read-body';
import { RequestScope } from './http/request-scope';
import { RouterTracing } from './http/request-trace';
import { type Log, routerLog } from './http/router-log';
import { ServerDrain } from './http/server-drain';
import { FlagRouting } from './routing/flag-routing';
import { ProxyHandler } from './serving/proxy-handler';
import { ShadowRunner } from './shadow/shadow-runner';
import { ConcurrencyLimiter, LimiterRegistry } from './upstream/concurrency-limiter';
import { RateLimiter } from './upstream/rate-limiter';
import { CredentialBindings } from './upstream/credential-bindings';
import { UpstreamClient } from './upstream/upstream-client';

export type { Log } from './http/router-log';

export interface RunningRouter {
  readonly url: string;
  readonly server: Server;
  readonly flags: FlagRouting;
  readonly events: EventPublisher;
  readonly metrics: RouterMetrics;
  close(): Promise<void>;
}

export interface RouterOptions {
  /** An event publisher to share (the all-in-one process passes its in-process bus). */
  readonly events?: EventPublisher;
  readonly log?: Log;
  /** How long to wait for the first routing data before listening anyway. */
  readonly readyTimeoutMs?: number;
  /** Where access-log lines go instead of stdout (tests); null: none, whatever the config says. */
  readonly accessLog?: DestinationStream | null;
}

/** Every API the router proxies, by path: an endpoint is an adapter, not a branch. */
const ENDPOINT_ADAPTERS: ReadonlyArray<EndpointAdapter<ProxiedRequest>> = [
  chatCompletions,
  responses,
  embeddings,
  completions,
];
const ENDPOINTS_BY_PATH = new Map(ENDPOINT_ADAPTERS.map((e) => [e.path, e]));
const MODELS_PREFIX = '/v1/models/';
const ROUTED = `Aviary routes POST ${ENDPOINT_ADAPTERS.map((e) => e.path).join(', ')}, GET and DELETE /v1/responses/{id} (GET …/input_items, POST …/cancel), the Conversations API (/v1/conversations and its items), GET /v1/models, GET /v1/models/{model} and POST /v1/feedback.`;

function modelObject(id: string) {
  return { id, object: 'model', created: 0, owned_by: 'aviary' };
}

/**
 * How long a stopping router lets the requests in flight finish before it cuts them: inside the
 * 30 s stop timeout (and the chart's grace period after its 5 s preStop pause), with time left to
 * flush the evidence.
 */
const DRAIN_MS = 15_000;
/** Probes and scrapes are not requests anyone asks about: no access-log line, no span. */
const UNLOGGED = new Set(['GET /metrics', 'GET /healthz', 'GET /readyz']);
const ROUTES = new Set([...ENDPOINTS_BY_PATH.keys(), '/v1/feedback', '/v1/models']);

/** The low-cardinality route of a path for span names (`/v1/models/{model}`); null: none matched. */
function routeOf(path: string): string | null {
  if (ROUTES.has(path)) return path;
  if (path.startsWith(STORED_RESPONSES_PREFIX)) return `${STORED_RESPONSES_PREFIX}{id}`;
  if (path === CONVERSATIONS_PATH) return path;
  if (path.startsWith(`${CONVERSATIONS_PATH}/`)) return `${CONVERSATIONS_PATH}/{id}`;
  return path.startsWith(MODELS_PREFIX) ? `${MODELS_PREFIX}{model}` : null;
}

/** The router's log as its config asks (AVIARY_LOG_LEVEL, AVIARY_LOG_FORMAT). */
export function configuredLog(config: Pick<RouterConfig, 'AVIARY_LOG_LEVEL' | 'AVIARY_LOG_FORMAT'>): Log {
  return routerLog({ level: config.AVIARY_LOG_LEVEL, format: config.AVIARY_LOG_FORMAT });
}

/** The router: a plain node:http server (no framework on the request path). */
export async function startRouter(config: RouterConfig, opts: RouterOptions = {}): Promise<RunningRouter> {
  const log = opts.log ?? configuredLog(config);
  const flags = new FlagRouting({
    url: config.AVIARY_FLAGS_URL,
    token: config.AVIARY_FLAGS_TOKEN,
    refreshMs: config.AVIARY_FLAGS_REFRESH_MS,
    backupDir: config.AVIARY_FLAGS_BACKUP_DIR,
    bootstrapFile: config.AVIARY_FLAGS_BOOTSTRAP_FILE,
    log: (level, m) => log(level, m),
  });
  let events: EventPublisher;
  let ownsEvents = true;
  if (opts.events) {
    events = opts.events;
    ownsEvents = false;
  } else if (config.KAFKA_BROKERS && config.KAFKA_BROKERS.length > 0) {
    const connection = {
      brokers: config.KAFKA_BROKERS,
      clientId: config.KAFKA_CLIENT_ID,
      ...kafkaSecurity(config),
    };
    events = new KafkaEventPublisher(
      Object.assign({}, connection, {
        maxBuffered: config.AVIARY_EVENTS_BUFFER,
        lingerMs: config.AVIARY_EVENTS_LINGER_MS,
        log: (level: 'error' | 'warn' | 'info' | 'debug', m: string) =>
          log(level === 'error' ? 'error' : level === 'warn' ? 'warn' : 'debug', `kafka: ${m}`),
      }),
    );
    // Best effort and off the start-up path: with auto-creation on, producing creates them anyway.
    ensureTopics(connection, Object.values(TOPICS), config.AVIARY_KAFKA_PARTITIONS)
      .then((created) => created.length > 0 && log('info', `created Kafka topics ${created.join(', ')}`))
      .catch((err: unknown) =>
        log(
          'warn',
          `could not check Kafka topics (will publish anyway): ${err instanceof Error ? err.message : String(err)}`,
        ),
      );
  } else {
    log(
      'warn',
      'KAFKA_BROKERS is not set and no analyzer shares this process: evidence events stay in memory and are dropped when the buffer fills',
    );
    events = new InProcessEventBus({ maxBuffered: config.AVIARY_EVENTS_BUFFER });
  }
  if (!config.AVIARY_ROUTER_SECRET)
    log(
      'warn',
      'AVIARY_ROUTER_SECRET is not set: request ids and Responses API ids are sealed with a per-process key, so feedback and thread continuations only resolve on this router instance',
    );
  const secret = config.AVIARY_ROUTER_SECRET ? Buffer.from(config.AVIARY_ROUTER_SECRET) : randomBytes(32);
  const ids = new RequestIds(secret);
  const threads = new ThreadTags(secret);
  // Whatever host a flag names, a credential goes only to the hosts the control plane binds it to.
  const credentials = new CredentialBindings({
    url: `${config.AVIARY_CONTROL_PLANE_URL ?? ''}/api/router/credentials`,
    token: config.AVIARY_CONTROL_PLANE_TOKEN,
    refreshMs: config.AVIARY_KEYS_REFRESH_MS,
    backupFile: join(config.AVIARY_FLAGS_BACKUP_DIR, 'credential-bindings.json'),
    refusals: { inc: (labels) => metrics.credentialRefusals.inc(labels) },
    log: (level, m) => log(level, m),
  });
  const upstream = new UpstreamClient({ credentials });
  const limiters = new LimiterRegistry(
    () =>
      new ConcurrencyLimiter(
        config.AVIARY_UPSTREAM_MAX_CONCURRENCY,
        config.AVIARY_UPSTREAM_MAX_QUEUE,
        config.AVIARY_UPSTREAM_QUEUE_TIMEOUT_MS,
      ),
  );
  const metrics = new RouterMetrics({ events, flags, limiters });
  const evidence = new EvidenceRecorder({
    events,
    metrics,
    refusals: RefusalDetector.fromEnv(config.AVIARY_REFUSAL_PATTERNS),
    captureSampleRate: config.AVIARY_CAPTURE_SAMPLE_RATE,
    capturePrompts: config.AVIARY_CAPTURE_PROMPTS,
    captureMaxChars: config.AVIARY_CAPTURE_MAX_CHARS,
  });
  const shadow = new ShadowRunner({
    upstream,
    limiter: new ConcurrencyLimiter(config.AVIARY_SHADOW_MAX_CONCURRENCY, 0, 1),
    evidence,
    metrics,
    limits: config,
    log,
  });
  const keys =
    config.AVIARY_ROUTER_AUTH === 'keys'
      ? new RouterKeys({
          url: `${config.AVIARY_CONTROL_PLANE_URL ?? ''}/api/router/keys`,
          token: config.AVIARY_CONTROL_PLANE_TOKEN,
          refreshMs: config.AVIARY_KEYS_REFRESH_MS,
          backupFile: join(config.AVIARY_FLAGS_BACKUP_DIR, 'router-keys.json'),
          log: (level, m) => log(level, m),
        })
      : null;
  if (!keys)
    log(
      'warn',
      'AVIARY_ROUTER_AUTH=off: the router accepts every client, and anyone who can reach it spends its upstream keys',
    );
  const keyLimits = new KeyLimits();
  // Daily token budgets hold for every router together: usage goes to the control plane, totals come back.
  const keyUsage = keys
    ? new KeyUsageReporter({
        url: `${config.AVIARY_CONTROL_PLANE_URL ?? ''}/api/router/key-usage`,
        token: config.AVIARY_CONTROL_PLANE_TOKEN,
        intervalMs: config.AVIARY_KEYS_REFRESH_MS,
        limits: keyLimits,
        log: (level, m) => log(level, m),
      })
    : null;
  const auth = keys ? new ClientAuth(keys, metrics.authFailures, keyLimits) : null;
  const proxy = new ProxyHandler({
    config,
    flags,
    upstream,
    limiters,
    rateLimiter: new RateLimiter(config.AVIARY_RATE_LIMIT_PER_MINUTE),
    evidence,
    metrics,
    ids,
    threads,
    shadow,
    auth,
    log,
  });
  const feedback = new FeedbackHandler({ ids, events, metrics });
  const storedResponses = new StoredResponses({ threads, flags, upstream, auth, config });
  const conversations = new Conversations({
    threads,
    flags,
    upstream,
    auth,
    config,
    maxBodyBytes: config.AVIARY_ROUTER_MAX_BODY_BYTES,
    forceHeader: config.AVIARY_FORCE_VERSION_HEADER,
    forceVersionKeys: config.AVIARY_FORCE_VERSION_KEYS,
  });
  const accessLog =
    opts.accessLog === null
      ? null
      : opts.accessLog !== undefined
        ? new AccessLog(opts.accessLog)
        : config.AVIARY_ACCESS_LOG === 'stdout'
          ? new AccessLog()
          : null;

  // Null unless tracing was started in this process (OTEL_EXPORTER_OTLP_ENDPOINT): no span work then.
  const tracing = RouterTracing.start();
  const cors = Cors.fromConfig(config.AVIARY_CORS_ORIGINS);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const method = req.method ?? 'GET';
    const scope = new RequestScope(method, path);
    drain.track(res);
    if ((accessLog || tracing) && !UNLOGGED.has(`${method} ${path}`)) {
      accessLog?.watch(scope, res);
      if (tracing) scope.trace = tracing.request(req, res, scope, routeOf(path));
    }
    // Browser apps only (an Origin header): the answer's CORS headers, or the preflight answered.
    const served =
      cors && req.headers.origin !== undefined
        ? cors.handle(req, res).then((goOn) => {
            if (goOn) return handle(req, res, scope);
            req.resume(); // a preflight has no body to read
            return undefined;
          })
        : handle(req, res, scope);
    served.catch((err: unknown) => {
      if (err instanceof ClientAbortedError) {
        metrics.clientAborts.inc({ stage: 'upload' });
        log('debug', `${method} ${path}: ${err.message}`, scope.logFields());
        return;
      }
      log(
        'error',
        `unhandled error on ${method} ${path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        scope.logFields(),
      );
      if (!res.headersSent)
        sendError(
          res,
          scope,
          500,
          'server_error',
          `The router failed unexpectedly (request ${scope.requestId}).`,
        );
      else res.destroy();
    });
  });
  answerClientErrors(server, openAiClientError, (message) => log('debug', message));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const drain = new ServerDrain(server);

  async function handle(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const { method, path } = scope;
    if (auth && path.startsWith('/v1/')) {
      const who = auth.authenticate(req.headers);
      if (isFailure(who)) {
        req.resume();
        return sendAnswer(res, scope, who);
      }
      scope.key = who;
    }
    const endpoint = method === 'POST' ? ENDPOINTS_BY_PATH.get(path) : undefined;
    if (endpoint) {
      scope.endpoint = endpoint.name;
      return proxy.handle(endpoint, req, res, scope);
    }
    switch (`${method} ${path}`) {
      case 'POST /v1/feedback':
        return feedback.handle(req, res, scope);
      case 'GET /v1/models':
        return json(res, scope, 200, {
          object: 'list',
          data: flags
            .models()
            .filter((m) => allows(scope.key, m))
            .map(modelObject),
        });
      case 'GET /metrics': {
        const body = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(body);
        return;
      }
      case 'GET /healthz':
        return json(res, scope, 200, { status: 'ok' });
      case 'GET /readyz': {
        const f = flags.status();
        const e = events.stats();
        const k = keys?.status() ?? null;
        const u = keyUsage?.status() ?? null;
        const c = credentials.status();
        const ready = f.ready && (k?.ready ?? true);
        const flagsOk = f.sourceReachable && f.degraded.length === 0;
        // Only a refusal degrades the router: a router whose versions send no credential does not
        // need the bindings (and one that does fails closed without them, which is a refusal).
        const credentialsOk = c.refused.length === 0;
        return json(res, scope, ready ? 200 : 503, {
          status: !ready
            ? 'unavailable'
            : flagsOk && e.healthy && (k?.sourceReachable ?? true) && (u?.reachable ?? true) && credentialsOk
              ? 'ok'
              : 'degraded',
          checks: {
            flags: {
              status: !f.sourceReachable ? 'unreachable' : f.degraded.length > 0 ? 'degraded' : 'ok',
              hasRouting: f.ready,
              lastError: f.lastError,
              lastUpdateAt: f.lastUpdateAt,
              // Known models whose flag is disabled, missing or unreadable, served from their last baseline.
              degraded: f.degraded,
            },
            events: { status: e.healthy ? 'ok' : 'failing', sink: events.name, ...e },
            keys: k
              ? {
                  status: k.sourceReachable ? 'ok' : 'unreachable',
                  hasKeys: k.ready,
                  keys: k.keys,
                  lastError: k.lastError,
                  lastUpdateAt: k.lastUpdateAt,
                }
              : { status: 'off' },
            // Daily token budgets: this router's usage reports and the fleet's totals read back.
            keyUsage: u
              ? {
                  status: u.reachable ? 'ok' : 'unreachable',
                  lastError: u.lastError,
                  lastReportAt: u.lastReportAt,
                }
              : { status: 'off' },
            // Credential → scheme and hosts, from the control plane; refused: versions whose flag
            // names a host their credential may not go to (answered 502 upstream_not_allowed).
            credentials: {
              status: !c.sourceReachable ? 'unreachable' : c.refused.length > 0 ? 'degraded' : 'ok',
              hasBindings: c.ready,
              credentials: c.credentials,
              lastError: c.lastError,
              lastUpdateAt: c.lastUpdateAt,
              degraded: [...new Set(c.refused.map((r) => r.model))],
              refused: c.refused,
            },
          },
        });
      }
    }
    if (method === 'GET' && path.startsWith(MODELS_PREFIX)) {
      const id = safeDecode(path.slice(MODELS_PREFIX.length));
      scope.model = id;
      if (flags.models().includes(id)) {
        if (!allows(scope.key, id))
          return sendError(
            res,
            scope,
            403,
            'permission_error',
            `The API key may not use the model \`${id}\`.`,
            {
              param: 'model',
              code: 'model_not_allowed',
            },
          );
        return json(res, scope, 200, modelObject(id));
      }
      return sendModelNotFound(res, scope, id);
    }
    if (path.startsWith(STORED_RESPONSES_PREFIX)) return storedResponses.handle(req, res, scope);
    if (path === CONVERSATIONS_PATH || path.startsWith(`${CONVERSATIONS_PATH}/`))
      return conversations.handle(req, res, scope);
    if (ENDPOINTS_BY_PATH.has(path) || path === '/v1/feedback')
      return sendError(res, scope, 405, 'invalid_request_error', `${path} takes POST, not ${method}.`, {
        code: 'method_not_allowed',
        headers: { allow: 'POST' },
      });
    if (path.startsWith('/v1/'))
      return sendError(
        res,
        scope,
        404,
        'invalid_request_error',
        `Aviary does not route ${method} ${path}. ${ROUTED}`,
        {
          code: 'unknown_url',
        },
      );
    return sendError(res, scope, 404, 'not_found_error', `Unknown endpoint ${method} ${path}. ${ROUTED}`);
  }

  await Promise.all([
    flags.waitUntilReady(opts.readyTimeoutMs ?? 5_000),
    keys?.start(opts.readyTimeoutMs ?? 5_000),
    keyUsage?.start(opts.readyTimeoutMs ?? 5_000),
    credentials.start(opts.readyTimeoutMs ?? 5_000),
  ]);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.AVIARY_ROUTER_PORT, config.AVIARY_BIND_HOST, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host =
    config.AVIARY_BIND_HOST === '0.0.0.0' || config.AVIARY_BIND_HOST === '::'
      ? '127.0.0.1'
      : config.AVIARY_BIND_HOST;
  return {
    url: `http://${host}:${address.port}`,
    server,
    flags,
    events,
    metrics,
    close: async () => {
      await drain.close(DRAIN_MS);
      await keyUsage?.close(2_000); // after the drain: the last answers' tokens are in it
      flags.close();
      keys?.close();
      credentials.close();
      await upstream.close();
      if (ownsEvents) await events.close(5_000);
      await accessLog?.flush();
    },
  };
}

function json(res: ServerResponse, scope: RequestScope, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-aviary-request-id': scope.requestId,
  });
  res.end(text);
}
