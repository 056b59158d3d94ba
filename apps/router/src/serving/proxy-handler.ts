import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Endpoint, ServingRole } from '@aviary/contracts';
import type { UpstreamTarget } from '@aviary/domain';
import type { DecodedRouting } from '@aviary/flags';
import { allows, type ClientAuth } from '../auth/client-auth';
import type { RouterConfig } from '../config/router.config';
import type { EvidenceRecorder, RecordedSide, Side } from '../evidence/evidence-recorder';
import type { RouterMetrics } from '../evidence/router-metrics';
import type { RequestIds } from '../feedback/request-id';
import { type EndpointAdapter, type ProxiedRequest, RequestError } from '../endpoints/endpoint';
import {
  sendAnswer,
  sendBodyTooLarge,
  sendError,
  sendForceRefused,
  sendUnrouted,
} from '../http/openai-errors';
import type { RequestScope } from '../http/request-scope';
import type { Log } from '../http/router-log';
import { BodyTooLargeError, readBody } from '../http/read-body';
import { afterPendingIo, pipeStream, serverTiming, writeBuffered } from '../http/response-writer';
import type { FlagRouting } from '../routing/flag-routing';
import { cohortProperties, mayForceVersion } from '../routing/request-context';
import { stickinessBucket, stickinessKey } from '../routing/stickiness';
import type { ShadowRunner } from '../shadow/shadow-runner';
import { type LimiterRegistry, QueueFullError } from '../upstream/concurrency-limiter';
import type { RateLimiter } from '../upstream/rate-limiter';
import { type UpstreamClient, UpstreamError, type UpstreamResponse } from '../upstream/upstream-client';
import { FALLBACK_CLASSES, failureAnswer, failureStatus } from '../upstream/upstream-errors';
import { callLimits, type LimitDefaults } from '../upstream/upstream-limits';
import type { Exchange } from './exchange';
import type { StoredThreads } from '../endpoints/endpoint';
import { type IdRename, renameInJson, StreamIdRenamer } from '../threads/id-renaming';
import { CONVERSATION_PREFIX, type ThreadTags } from '../threads/thread-tags';
import { ClientGone, type AbortSource } from '../http/client-gone';

export interface ProxyDeps {
  readonly config: Pick<
    RouterConfig,
    | 'AVIARY_ROUTER_MAX_BODY_BYTES'
    | 'AVIARY_RATE_LIMIT_PER_MINUTE'
    | 'AVIARY_FORCE_VERSION_HEADER'
    | 'AVIARY_FORCE_VERSION_KEYS'
  > &
    LimitDefaults;
  readonly flags: Pick<FlagRouting, 'resolve' | 'forced' | 'status'>;
  readonly upstream: Pick<UpstreamClient, 'call'>;
  readonly limiters: LimiterRegistry;
  readonly rateLimiter: RateLimiter;
  readonly evidence: EvidenceRecorder;
  readonly metrics: RouterMetrics;
  readonly ids: RequestIds;
  /** Ids of stored answers (Responses API), tagged so a follow-up is routed the way its thread began. */
  readonly threads: ThreadTags;
  readonly shadow: Pick<ShadowRunner, 'run'>;
  /** Router keys' scopes and limits; null when client authentication is off. */
  readonly auth: Pick<ClientAuth, 'admit' | 'charge'> | null;
  /**
   * Upstream failures at debug level, one line per attempt with the request id (at info the
   * request's access-log line already has the error class and cause; metrics count them).
   */
  readonly log?: Log;
}

/** An upstream call that answered (its first byte is in), and who it was. */
interface Served {
  readonly up: UpstreamResponse;
  readonly target: UpstreamTarget;
  readonly role: ServingRole;
  /** The candidate failed before its first byte and the baseline answered instead. */
  readonly candidateFailure: UpstreamError | null;
}

export function serves(target: UpstreamTarget, endpoint: Endpoint): boolean {
  return !target.endpoints || target.endpoints.includes(endpoint);
}

/**
 * The routing for a request to this endpoint: a split never sends a request to a version that cannot
 * answer it. A candidate that does not serve the endpoint leaves the request to the baseline (as
 * baseline traffic, not as a candidate failure); a fallback or shadow that does not serve it is not
 * used; null when the version routed to cannot answer and there is no other.
 */
export function forEndpoint(routing: DecodedRouting, endpoint: Endpoint): DecodedRouting | null {
  const { target, fallback, shadow } = routing;
  if (!target.endpoints && !fallback?.endpoints && !shadow?.target.endpoints) return routing; // the usual case
  if (!serves(target, endpoint)) {
    if (routing.role !== 'candidate' || !fallback || !serves(fallback, endpoint)) return null;
    return Object.assign({}, routing, {
      role: 'baseline' as const,
      target: fallback,
      fallback: null,
      shadow: null,
    });
  }
  return Object.assign({}, routing, {
    fallback: fallback && serves(fallback, endpoint) ? fallback : null,
    shadow: shadow && serves(shadow.target, endpoint) ? shadow : null,
  });
}

/** No upstream answer can be passed on: which attempt failed, and how. */
class AttemptFailed extends Error {
  constructor(
    override readonly cause: unknown,
    readonly target: UpstreamTarget,
    readonly role: ServingRole,
    readonly candidateFailure: UpstreamError | null,
  ) {
    super('upstream attempt failed');
  }
}

/** What a request's thread decides: its bucketing key, ids to rename back, where it is pinned. */
interface ThreadOfRequest {
  readonly key: string | null;
  readonly restored: readonly IdRename[];
  /** The version id holding the thread's stored objects (its origin), or null. */
  readonly pinned: string | null;
  /** The origins of the tagged ids the request names, and which parameter named each. */
  readonly origins: ReadonlyArray<{ readonly model: string; readonly param: string }>;
}

const NO_THREAD: ThreadOfRequest = { key: null, restored: [], pinned: null, origins: [] };

/**
 * The proxy flow every endpoint shares: read and parse the request (the endpoint's adapter), route
 * it by the model's flag, call the upstream (falling back from a failing candidate to the baseline),
 * pass the answer on, record the evidence, and send the shadow copy. Nothing here awaits Kafka, the
 * database or the control plane.
 */
export class ProxyHandler {
  constructor(private readonly d: ProxyDeps) {}

  async handle<R extends ProxiedRequest>(
    endpoint: EndpointAdapter<R>,
    req: IncomingMessage,
    res: ServerResponse,
    scope: RequestScope,
  ): Promise<void> {
    const t0 = scope.t0;
    const request = await this.readRequest(endpoint, req, res, scope);
    if (!request) return;
    scope.model = request.model;
    scope.stream = request.stream;
    if (scope.key && this.d.auth) {
      const denied = this.d.auth.admit(scope.key, request.model);
      if (denied) return sendAnswer(res, scope, denied);
    }
    const thread = this.threadOf(endpoint, request);
    // A stored answer or a conversation of a model this key may not use is not reachable through
    // another model it may use (both may share one upstream account).
    const foreign = thread.origins.find((o) => !allows(scope.key, o.model));
    if (foreign)
      return sendError(
        res,
        scope,
        403,
        'permission_error',
        `This API key may not use the model \`${foreign.model}\`, which the ${foreign.param} belongs to.`,
        { param: foreign.param, code: 'model_not_allowed' },
      );
    const sticky = stickinessKey(req.headers, request.user, thread.key);
    const forceHeader = this.d.config.AVIARY_FORCE_VERSION_HEADER;
    const forcedVersion = req.headers[forceHeader];
    if (forcedVersion !== undefined && !mayForceVersion(this.d.config.AVIARY_FORCE_VERSION_KEYS, scope.key))
      return sendForceRefused(res, scope, forceHeader);
    const tFlags = performance.now();
    // A thread's turn goes to the version that stored its answer or holds its conversation, while
    // that version still serves the model (a split that moved meanwhile does not move the thread);
    // with no fallback, since no other version could answer it.
    const resolved =
      forcedVersion !== undefined
        ? this.d.flags.forced(request.model, String(forcedVersion))
        : ((thread.pinned !== null ? this.d.flags.forced(request.model, thread.pinned) : null) ??
          this.d.flags.resolve(
            request.model,
            sticky.key,
            cohortProperties(req.headers, request.user, forceHeader),
          ));
    const flagsMs = performance.now() - tFlags;
    if (!resolved && forcedVersion !== undefined)
      return sendError(
        res,
        scope,
        400,
        'invalid_request_error',
        `The model \`${request.model}\` has no version \`${String(forcedVersion)}\` to force (${forceHeader} takes the label or id of its stable, candidate or shadowed version).`,
        { param: forceHeader, code: 'unknown_version' },
      );
    if (!resolved) return sendUnrouted(res, scope, this.d.flags.status().ready, request.model);
    const routing = forEndpoint(resolved, endpoint.name);
    if (!routing)
      return sendError(
        res,
        scope,
        404,
        'invalid_request_error',
        `The model \`${request.model}\` does not serve ${endpoint.path} (its version ${resolved.target.label} declares other endpoints).`,
        { param: 'model', code: 'endpoint_not_served' },
      );
    // A request without a user or conversation has a key of its own: it can never reach a limit,
    // and a bucket per request only filled the limiter's memory.
    const wait = sticky.source === 'random' ? 0 : this.d.rateLimiter.take(sticky.key);
    if (wait > 0) {
      this.d.metrics.shed.inc({ model: request.model, reason: 'rate_limit' });
      return sendError(
        res,
        scope,
        429,
        'rate_limit_error',
        `Rate limit of ${this.d.config.AVIARY_RATE_LIMIT_PER_MINUTE} requests per minute reached for this user.`,
        { code: 'rate_limit_exceeded', headers: { 'retry-after': String(wait) } },
      );
    }
    const x: Exchange<R> = {
      endpoint,
      request,
      routing,
      stickyKey: sticky.key,
      bucket: stickinessBucket(sticky),
      forced: forcedVersion !== undefined,
      restored: thread.restored,
      flagsMs,
      t0,
      scope,
    };
    scope.trace?.routed(x, tFlags);
    const gone = new ClientGone();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    // The shadow copy is sent once the user has their answer: its dispatch, parsing and evidence
    // never compete with the primary for this event loop, and a failed primary is not shadowed
    // (there would be nothing to compare with).
    const shadow =
      routing.role === 'baseline' &&
      routing.shadow &&
      Math.random() < routing.shadow.sampleRate &&
      (endpoint.shadowable?.(request) ?? true)
        ? routing.shadow.target
        : null;
    let primary: RecordedSide;
    try {
      const served = await this.serve(x, gone);
      primary = await this.answer(res, x, served);
      scope.trace?.endUpstream(primary);
      if (scope.key && this.d.auth)
        this.d.auth.charge(
          scope.key,
          (primary.outcome.promptTokens ?? 0) + (primary.outcome.completionTokens ?? 0),
        );
      if (served.candidateFailure) {
        this.recordFailure(x, routing.target, 'candidate', served.candidateFailure, primary.requestId, true);
        this.logFailure(x, routing.target, 'candidate', served.candidateFailure, 'the baseline answered');
      }
    } catch (err) {
      if (err instanceof RequestError)
        return sendError(res, scope, 400, 'invalid_request_error', err.message, {
          param: err.param,
          code: err.code,
        });
      if (!(err instanceof AttemptFailed)) throw err;
      return this.failed(res, x, err);
    }
    if (shadow && primary.errorClass !== 'client_aborted')
      setImmediate(() => this.d.shadow.run(x, shadow, primary));
  }

  private async readRequest<R extends ProxiedRequest>(
    endpoint: EndpointAdapter<R>,
    req: IncomingMessage,
    res: ServerResponse,
    scope: RequestScope,
  ): Promise<R | null> {
    try {
      return endpoint.parse(await readBody(req, this.d.config.AVIARY_ROUTER_MAX_BODY_BYTES));
    } catch (err) {
      if (err instanceof BodyTooLargeError) sendBodyTooLarge(res, scope, err.limit);
      else if (err instanceof RequestError)
        sendError(res, scope, 400, 'invalid_request_error', err.message, {
          param: err.param,
          code: err.code,
        });
      else throw err;
      return null;
    }
  }

  /**
   * The thread a request continues, as a stickiness key: the key its first turn was bucketed on (from
   * the tagged id it names, whose upstream id is put back into the request), else the API's own
   * conversation id. A tag this router cannot open (another router's per-process key) still gives
   * back the upstream id; the request is then bucketed on its user, or at random.
   */
  private threadOf<R extends ProxiedRequest>(endpoint: EndpointAdapter<R>, request: R): ThreadOfRequest {
    const threads = endpoint.threads;
    if (!threads) return NO_THREAD;
    const restored: IdRename[] = [];
    const origins: Array<{ model: string; param: string }> = [];
    let key: string | null = null;
    let pinned: string | null = null;
    const previous = threads.continues(request);
    if (previous !== null) {
      const opened = this.d.threads.open(threads.idPrefix, previous);
      if (opened) {
        threads.restore(request, opened.upstreamId);
        restored.push([opened.upstreamId, previous]);
      }
      const routing = !opened ? 'untagged' : opened.origin ? 'thread' : 'unsealed';
      this.d.metrics.threadContinuations.inc({ model: request.model, routing });
      if (opened?.origin) {
        key = opened.origin.key;
        pinned = opened.origin.versionId;
        origins.push({ model: opened.origin.model, param: 'previous_response_id' });
      }
    }
    const conversation = threads.conversation(request);
    if (conversation !== null) {
      // A conversation is held by the version it was created on: its turns go there.
      const opened = this.d.threads.open(CONVERSATION_PREFIX, conversation);
      if (opened) {
        threads.restoreConversation(request, opened.upstreamId);
        restored.push([opened.upstreamId, conversation]);
      }
      const routing = !opened ? 'untagged' : opened.origin ? 'conversation' : 'unsealed';
      this.d.metrics.conversationTurns.inc({ model: request.model, routing });
      if (opened?.origin) {
        key ??= opened.origin.key;
        pinned ??= opened.origin.versionId;
        origins.push({ model: opened.origin.model, param: 'conversation' });
      }
      key ??= `c:${opened?.upstreamId ?? conversation}`;
    }
    return { key, restored, pinned, origins };
  }

  /**
   * For an API with stored answers: where its ids are, and how to rename one to an id tagged with
   * its thread's origin (see threadOf). Null for every other API.
   */
  private tagger(
    x: Exchange,
    target: UpstreamTarget,
  ): { threads: StoredThreads<ProxiedRequest>; renames: (id: string | null) => IdRename[] } | null {
    const threads = x.endpoint.threads;
    if (!threads) return null;
    const origin = { key: x.stickyKey, model: x.request.model, versionId: target.versionId };
    return {
      threads,
      // The answer's own id, tagged; the id it continues (its `previous_response_id`), as the
      // client named it.
      renames: (id) => {
        const renames: IdRename[] = id ? [[id, this.d.threads.tag(threads.idPrefix, id, origin)]] : [];
        if (x.restored) renames.push(...x.restored);
        return renames;
      },
    };
  }

  /** Calls the routed version; a candidate failing before its first byte is retried once on the baseline. */
  private async serve(x: Exchange, signal: AbortSource): Promise<Served> {
    const { routing } = x;
    const role: ServingRole = routing.role;
    try {
      return {
        up: await this.attempt(x, routing.target, role, signal),
        target: routing.target,
        role,
        candidateFailure: null,
      };
    } catch (err) {
      if (err instanceof RequestError) throw err; // the body cannot be forwarded to any version
      const fallback = routing.fallback;
      if (
        role !== 'candidate' ||
        !fallback ||
        !(err instanceof UpstreamError) ||
        !FALLBACK_CLASSES.has(err.errorClass)
      )
        throw new AttemptFailed(err, routing.target, role, null);
      // Counted against the candidate once we know the request id of the baseline's answer.
      this.d.metrics.fallbacks.inc({ model: x.request.model });
      try {
        return {
          up: await this.attempt(x, fallback, 'baseline', signal),
          target: fallback,
          role: 'baseline',
          candidateFailure: err,
        };
      } catch (again) {
        throw new AttemptFailed(again, fallback, 'baseline', err);
      }
    }
  }

  /** Waits for a slot at the upstream (or is turned away), then calls it; the slot is held until the call is over. */
  private async attempt(
    x: Exchange,
    target: UpstreamTarget,
    role: ServingRole,
    signal: AbortSource,
  ): Promise<UpstreamResponse> {
    const release = await this.d.limiters.for(target.baseUrl).acquire();
    let payload: string;
    try {
      payload = x.endpoint.upstreamPayload(x.request, target, 'serve');
    } catch (err) {
      release();
      throw err;
    }
    const trace = x.scope.trace;
    // Keys are added to the fresh limits object, not spread after it (see SPREAD_THEN_KEYS).
    const call = this.d.upstream.call(
      target,
      x.endpoint.upstreamPath,
      payload,
      Object.assign(callLimits(target, this.d.config, x.request.stream ? 'serve-stream' : 'serve'), {
        signal,
        onDone: release,
        traceparent: trace?.startUpstream(x, target, role),
        model: x.request.model,
      }),
    );
    return trace ? trace.watchUpstream(call) : call;
  }

  /** Passes the upstream's answer on (buffered or streamed), then records its outcome. */
  private async answer(res: ServerResponse, x: Exchange, s: Served): Promise<RecordedSide> {
    const { up, target, role } = s;
    const requestId = this.issueId(x, target, role);
    Object.assign(x.scope, { requestId, version: target.label, role });
    const headers: Record<string, string> = {
      'x-aviary-request-id': requestId,
      'x-aviary-model-version': target.label,
      'x-aviary-role': role,
    };
    const side = { target, role, requestId, status: up.status, fellBack: s.candidateFailure !== null };
    const contentType = String(up.headers['content-type'] ?? '');
    if (x.request.stream && contentType.includes('text/event-stream') && up.status < 400) {
      const reader = x.endpoint.streamReader(x.request);
      headers['server-timing'] = serverTiming(x.flagsMs, up.ttfbMs);
      const t = this.tagger(x, target);
      const renamer =
        t && new StreamIdRenamer((data) => t.renames(data === null ? null : t.threads.idOfFirstEvent(data)));
      const end = await pipeStream(res, up, headers, (c) => reader.push(c), renamer);
      const latencyMs = performance.now() - x.t0;
      if (!end.error && !end.clientGone) await afterPendingIo();
      const answer = reader.finish();
      const errorClass = end.clientGone
        ? 'client_aborted'
        : end.error
          ? end.error.errorClass
          : answer.malformed
            ? 'invalid_response'
            : null;
      Object.assign(x.scope, { errorClass, cause: end.error?.causeCode ?? null });
      const first = reader.tokens.first;
      return this.d.evidence.outcome(x, {
        stream: true,
        latencyMs,
        // Time to the first token, not just the first byte (a role chunk or a keep-alive comment).
        ttftMs: first !== null ? first - up.startedAt : up.ttfbMs,
        interTokenMs: reader.tokens.meanGapMs(),
        answer,
        errorClass,
        ...side, // last: see SPREAD_THEN_KEYS
      });
    }
    let body: Buffer;
    try {
      body = await up.body();
    } catch (err) {
      throw new AttemptFailed(err, target, role, s.candidateFailure);
    }
    headers['server-timing'] = serverTiming(x.flagsMs, up.ttfbMs, performance.now() - x.t0);
    writeBuffered(res, up, up.status < 400 ? this.withTaggedId(x, target, body) : body, headers);
    const latencyMs = performance.now() - x.t0;
    // The answer is on its way before the evidence is worked out: parsing it, classifying it and
    // recording it happen after node:http has flushed the response to the socket.
    await afterPendingIo();
    const answer = x.endpoint.readJson(body, x.request);
    const errorClass = up.status >= 400 ? 'upstream_4xx' : answer.malformed ? 'invalid_response' : null;
    x.scope.errorClass = errorClass;
    return this.d.evidence.outcome(x, {
      stream: x.request.stream,
      latencyMs,
      ttftMs: up.ttfbMs,
      answer,
      errorClass,
      ...side, // last: see SPREAD_THEN_KEYS
    });
  }

  /** The answer with its stored id tagged (Responses API); other answers as they are. */
  private withTaggedId(x: Exchange, target: UpstreamTarget, body: Buffer): Buffer {
    const t = this.tagger(x, target);
    return t ? renameInJson(body, t.renames(t.threads.idOfJson(body))) : body;
  }

  /** Records the failed attempt(s) and tells the user, unless they already left. */
  private failed(res: ServerResponse, x: Exchange, f: AttemptFailed): void {
    const model = x.request.model;
    const err = f.cause;
    x.scope.trace?.failUpstream(err);
    // Not an upstream's doing: the router's own failure (answered 500 with the request id).
    if (!(err instanceof UpstreamError) && !(err instanceof QueueFullError)) throw err;
    if (err instanceof QueueFullError) this.d.metrics.shed.inc({ model, reason: err.reason });
    const failure = err instanceof QueueFullError ? new UpstreamError('shed', err.message, 429) : err;
    const fellBack = f.candidateFailure !== null;
    const requestId = this.recordFailure(x, f.target, f.role, failure, null, fellBack);
    if (f.candidateFailure)
      this.recordFailure(x, x.routing.target, 'candidate', f.candidateFailure, requestId, true);
    Object.assign(x.scope, {
      requestId,
      version: f.target.label,
      role: f.role,
      errorClass: failure.errorClass,
      cause: failure.causeCode,
    });
    if (failure.errorClass === 'client_aborted') {
      // Nobody to answer: let the connection go, or it stays open with a response never ended and
      // holds up the server's close (a rolling restart then waits out its grace period).
      if (!res.destroyed) res.destroy();
      return;
    }
    this.logFailure(x, f.target, f.role, failure, 'the request failed');
    const a = failureAnswer(err, model, f.target);
    sendError(res, x.scope, a.status, a.type, a.message, {
      code: a.code,
      ...(a.headers ? { headers: a.headers } : {}),
    });
  }

  /** Emits the outcome of a failed attempt; returns the request id it was filed under. */
  private recordFailure(
    x: Exchange,
    target: UpstreamTarget,
    role: ServingRole,
    err: UpstreamError,
    requestId: string | null,
    fellBack: boolean,
  ): string {
    const side: Side = {
      target,
      role,
      requestId: requestId ?? this.issueId(x, target, role),
      status: failureStatus(err),
      errorClass: err.errorClass,
      fellBack,
      answer: null,
      latencyMs: performance.now() - x.t0,
      ttftMs: null,
      stream: x.request.stream,
    };
    this.d.evidence.outcome(x, side);
    return side.requestId;
  }

  private logFailure(
    x: Exchange,
    target: UpstreamTarget,
    role: ServingRole,
    err: UpstreamError,
    outcome: string,
  ): void {
    const cause = err.causeCode;
    this.d.log?.(
      'debug',
      `upstream ${target.label} (${role}) failed: ${err.message}; ${outcome}`,
      Object.assign(x.scope.logFields(), {
        version: target.label,
        role,
        errorClass: err.errorClass,
        ...(cause ? { cause } : {}),
      }),
    );
  }

  private issueId(x: Exchange, target: UpstreamTarget, role: ServingRole): string {
    return this.d.ids.issue({
      model: x.request.model,
      versionId: target.versionId,
      versionLabel: target.label,
      role,
      rolloutId: x.routing.rolloutId,
      revision: x.routing.revision,
      at: Math.floor(Date.now() / 1000),
      // Feedback on this answer counts in the same user cluster as the answer (the analyzer's variance).
      stickinessBucket: x.bucket,
      ...(x.forced || x.routing.cohort ? { notEvidence: true as const } : {}),
    });
  }
}
