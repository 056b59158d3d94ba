import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  TOPICS,
  eventKey,
  type ErrorClass,
  type OutcomeEvent,
  type PairSide,
  type ServingRole,
} from '@aviary/contracts';
import type { EventPublisher, UpstreamTarget } from '@aviary/domain';
import type { DecodedRouting } from '@aviary/flags';
import type { RouterConfig } from '../config/router.config';
import { RouterMetrics } from '../evidence/router-metrics';
import type { RequestIds } from '../feedback/request-id';
import { sendError } from '../http/openai-errors';
import { BodyTooLargeError, readBody } from '../http/read-body';
import type { FlagRouting } from '../routing/flag-routing';
import { stickinessBucket, stickinessKey } from '../routing/stickiness';
import type { ShadowRunner } from '../shadow/shadow-runner';
import {
  type ConcurrencyLimiter,
  type LimiterRegistry,
  QueueFullError,
} from '../upstream/concurrency-limiter';
import type { RateLimiter } from '../upstream/rate-limiter';
import { type UpstreamClient, UpstreamError, type UpstreamResponse } from '../upstream/upstream-client';
import { type ChatRequest, ChatRequestError, parseChatRequest } from './chat-request';
import { type CompletionSummary, readJsonCompletion, SseCompletionReader } from './completion-reader';
import { classifyOutput } from './output-classifier';
import type { RefusalDetector } from '@aviary/domain';

export interface ChatDeps {
  readonly config: RouterConfig;
  readonly flags: FlagRouting;
  readonly upstream: UpstreamClient;
  readonly limiters: LimiterRegistry;
  readonly rateLimiter: RateLimiter;
  readonly refusals: RefusalDetector;
  readonly events: EventPublisher;
  readonly metrics: RouterMetrics;
  readonly ids: RequestIds;
  readonly shadow: ShadowRunner;
}

/** How the primary request ended, for the shadow pair. */
export type PrimaryResult = Omit<PairSide, 'versionId' | 'versionLabel'> & {
  target: UpstreamTarget;
  requestId: string;
  stickinessBucket: number | null;
};

const FALLBACK_CLASSES: ReadonlySet<ErrorClass> = new Set(['connect', 'timeout', 'upstream_5xx']);
const round = (ms: number) => Math.round(ms * 100) / 100;
const approxTokens = (chars: number) => Math.ceil(chars / 4);

/**
 * POST /v1/chat/completions: resolve the version from the flag, forward, pipe, classify, record.
 * Nothing here awaits Kafka, the database or the control plane.
 */
export class ChatHandler {
  constructor(private readonly d: ChatDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    let chat: ChatRequest;
    try {
      chat = parseChatRequest(await readBody(req, this.d.config.AVIARY_ROUTER_MAX_BODY_BYTES));
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        return sendError(
          res,
          413,
          'invalid_request_error',
          `The request body is larger than ${err.limit} bytes.`,
          { code: 'request_too_large' },
        );
      if (err instanceof ChatRequestError)
        return sendError(res, 400, 'invalid_request_error', err.message, { param: err.param });
      throw err;
    }
    const sticky = stickinessKey(req.headers, chat.user);
    const tFlags = performance.now();
    const routing = this.d.flags.resolve(chat.model, sticky.key);
    const flagsMs = performance.now() - tFlags;
    if (!routing) {
      if (!this.d.flags.status().ready) {
        return sendError(
          res,
          503,
          'server_error',
          'Aviary has not received any routing yet (the flag source has not answered); retry shortly.',
          { code: 'routing_unavailable', headers: { 'retry-after': '2' } },
        );
      }
      return sendError(
        res,
        404,
        'invalid_request_error',
        `The model \`${chat.model}\` does not exist or is not routed by Aviary.`,
        { param: 'model', code: 'model_not_found' },
      );
    }
    const wait = this.d.rateLimiter.take(sticky.key);
    if (wait > 0) {
      this.d.metrics.shed.inc({ model: chat.model, reason: 'rate_limit' });
      return sendError(
        res,
        429,
        'rate_limit_error',
        `Rate limit of ${this.d.config.AVIARY_RATE_LIMIT_PER_MINUTE} requests per minute reached for this user.`,
        { code: 'rate_limit_exceeded', headers: { 'retry-after': String(wait) } },
      );
    }

    const ctx = { chat, routing, bucket: stickinessBucket(sticky), flagsMs, t0 };
    const aborted = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborted.abort();
    });

    // The shadow copy is sent once the user has their answer: its dispatch, parsing and evidence
    // never compete with the primary for this event loop, and a failed primary is not shadowed
    // (there would be nothing to compare with).
    const shadow =
      routing.role === 'baseline' && routing.shadow && Math.random() < routing.shadow.sampleRate
        ? routing.shadow.target
        : null;

    const role: ServingRole = routing.role;
    // A candidate failure is recorded once we know the request id of whoever answered instead.
    let candidateFailure: UpstreamError | null = null;
    try {
      const served = await this.attempt(routing.target, chat, aborted.signal).catch(async (err: unknown) => {
        if (
          role !== 'candidate' ||
          !routing.fallback ||
          !(err instanceof UpstreamError) ||
          !FALLBACK_CLASSES.has(err.errorClass)
        )
          throw err;
        // The candidate failed before its first byte: count it against the candidate, answer from the baseline.
        this.d.metrics.fallbacks.inc({ model: chat.model });
        candidateFailure = err;
        const fallback = routing.fallback;
        return { ...(await this.attempt(fallback, chat, aborted.signal)), fellBackTo: fallback };
      });
      const target = 'fellBackTo' in served ? served.fellBackTo : routing.target;
      const servedRole: ServingRole = 'fellBackTo' in served ? 'baseline' : role;
      const result = await this.respond(res, ctx, served, target, servedRole, 'fellBackTo' in served);
      if (candidateFailure)
        this.recordFailure(ctx, 'candidate', routing.target, candidateFailure, result.requestId, true);
      if (shadow && result.errorClass !== 'client_aborted')
        setImmediate(() => this.d.shadow.run(chat, routing, shadow, result));
    } catch (err) {
      this.handleFailure(res, ctx, role, routing, err, candidateFailure);
    }
  }

  /** Waits for an upstream slot (or is turned away), then calls the upstream. */
  private async attempt(
    target: UpstreamTarget,
    chat: ChatRequest,
    signal: AbortSignal,
  ): Promise<UpstreamResponse> {
    const limiter: ConcurrencyLimiter = this.d.limiters.for(target.baseUrl);
    const release = await limiter.acquire();
    let payload: string;
    try {
      payload = JSON.stringify({ ...chat.body, model: target.upstreamModel });
    } catch (err) {
      release();
      throw err;
    }
    // The slot is held until the call is over: body read to the end, failed or aborted.
    return this.d.upstream.call(target, payload, {
      timeoutMs: target.timeoutMs,
      signal,
      onDone: release,
    });
  }

  private async respond(
    res: ServerResponse,
    ctx: Ctx,
    up: UpstreamResponse,
    target: UpstreamTarget,
    role: ServingRole,
    fellBack: boolean,
  ): Promise<PrimaryResult> {
    const { chat, routing } = ctx;
    const requestId = this.d.ids.issue({
      model: chat.model,
      versionId: target.versionId,
      versionLabel: target.label,
      role,
      rolloutId: routing.rolloutId,
      revision: routing.revision,
      at: Math.floor(Date.now() / 1000),
      stickinessBucket: ctx.bucket,
    });
    const timing = `flags;dur=${round(ctx.flagsMs)}, upstream;dur=${round(up.ttfbMs)};desc="first byte"`;
    const headers: Record<string, string> = {
      'x-aviary-request-id': requestId,
      'x-aviary-model-version': target.label,
      'x-aviary-role': role,
    };
    const contentType = String(up.headers['content-type'] ?? 'application/json');
    const streaming = chat.stream && contentType.includes('text/event-stream') && up.status < 400;
    let summary: CompletionSummary;
    let clientGone = false;
    if (streaming) {
      res.writeHead(up.status, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'server-timing': timing,
      });
      const reader = new SseCompletionReader();
      try {
        const write = async (c: Buffer) => {
          reader.push(c);
          if (!res.write(c)) await drainOrClose(res);
        };
        if (up.first) await write(up.first);
        for await (const c of up.rest) {
          if (res.destroyed) {
            clientGone = true;
            break;
          }
          await write(c);
        }
      } catch (err) {
        // The stream broke after headers were sent: all we can do is end it.
        if (!(err instanceof UpstreamError) || err.errorClass !== 'client_aborted') res.destroy();
        clientGone = res.destroyed;
        summary = reader.finish();
        return this.finish(
          ctx,
          target,
          role,
          fellBack,
          requestId,
          up,
          summary,
          err instanceof UpstreamError ? err.errorClass : 'connect',
          clientGone,
        );
      }
      summary = reader.finish();
      res.end();
      ctx.endedAt = performance.now();
      await afterPendingIo();
    } else {
      const body = await up.body();
      const total = performance.now() - ctx.t0;
      res.writeHead(up.status, {
        ...headers,
        'content-type': contentType,
        'content-length': String(body.length),
        'server-timing': `${timing}, total;dur=${round(total)}`,
      });
      res.end(body);
      ctx.endedAt = performance.now();
      // The answer is on its way before the evidence is worked out: parsing it, classifying it and
      // recording it happen after node:http has flushed the response to the socket.
      await afterPendingIo();
      summary = readJsonCompletion(body);
    }
    const errorClass: ErrorClass | null =
      up.status >= 400 ? 'upstream_4xx' : summary.malformed ? 'invalid_response' : null;
    return this.finish(ctx, target, role, fellBack, requestId, up, summary, errorClass, clientGone);
  }

  private finish(
    ctx: Ctx,
    target: UpstreamTarget,
    role: ServingRole,
    fellBack: boolean,
    requestId: string,
    up: UpstreamResponse,
    summary: CompletionSummary,
    errorClass: ErrorClass | null,
    clientGone: boolean,
  ): PrimaryResult {
    const latencyMs = (ctx.endedAt ?? performance.now()) - ctx.t0;
    const cls = classifyOutput(summary.text, ctx.chat.jsonRequested, this.d.refusals);
    const finalClass = clientGone ? 'client_aborted' : errorClass;
    const outcome = this.outcome(ctx, target, role, requestId, {
      status: up.status,
      errorClass: finalClass,
      fellBack,
      ...(finalClass ? { refusal: false, empty: false, invalidJson: false } : cls),
      latencyMs,
      ttftMs: up.ttfbMs,
      promptTokens: summary.promptTokens ?? approxTokens(promptChars(ctx.chat)),
      completionTokens: summary.completionTokens ?? (summary.text ? approxTokens(summary.text.length) : 0),
      outputChars: summary.text.length,
    });
    this.emit(outcome);
    return {
      target,
      requestId,
      stickinessBucket: ctx.bucket,
      status: up.status,
      errorClass: finalClass,
      output: summary.text,
      refusal: outcome.refusal,
      empty: outcome.empty,
      invalidJson: outcome.invalidJson,
      latencyMs,
      completionTokens: outcome.completionTokens,
    };
  }

  private handleFailure(
    res: ServerResponse,
    ctx: Ctx,
    role: ServingRole,
    routing: DecodedRouting,
    err: unknown,
    candidateFailure: UpstreamError | null,
  ): void {
    const model = ctx.chat.model;
    if (err instanceof QueueFullError) {
      this.d.metrics.shed.inc({ model, reason: err.reason });
      this.recordFailure(
        ctx,
        candidateFailure ? 'baseline' : role,
        candidateFailure ? (routing.fallback ?? routing.target) : routing.target,
        new UpstreamError('shed', err.message, 429),
        null,
        candidateFailure !== null,
      );
      return sendError(
        res,
        429,
        'rate_limit_error',
        `The model \`${model}\` is at capacity (${err.message}); retry shortly.`,
        { code: 'upstream_saturated', headers: { 'retry-after': '1' } },
      );
    }
    if (!(err instanceof UpstreamError)) {
      res.destroy();
      throw err;
    }
    // If the candidate fell back, the failure being handled is the baseline's.
    const failedRole: ServingRole = candidateFailure ? 'baseline' : role;
    const target = candidateFailure ? (routing.fallback ?? routing.target) : routing.target;
    const requestId = this.recordFailure(ctx, failedRole, target, err, null, candidateFailure !== null);
    if (candidateFailure)
      this.recordFailure(ctx, 'candidate', routing.target, candidateFailure, requestId, true);
    switch (err.errorClass) {
      case 'client_aborted':
        return;
      case 'timeout':
        return sendError(
          res,
          504,
          'timeout_error',
          `The model \`${model}\` did not answer within ${target.timeoutMs} ms.`,
          { code: 'upstream_timeout' },
        );
      case 'upstream_5xx':
        return sendError(
          res,
          err.status === 503 ? 503 : 502,
          'upstream_error',
          `The model \`${model}\` failed (upstream answered ${err.status ?? 'an error'}).`,
          { code: 'upstream_error' },
        );
      default:
        return sendError(
          res,
          502,
          'upstream_error',
          `The model \`${model}\` could not be reached: ${err.message}.`,
          { code: 'upstream_unreachable' },
        );
    }
  }

  /** Emits the outcome of a failed attempt; returns the request id it was filed under. */
  private recordFailure(
    ctx: Ctx,
    role: ServingRole,
    target: UpstreamTarget,
    err: UpstreamError,
    requestId: string | null,
    fellBack: boolean,
  ): string {
    const id =
      requestId ??
      this.d.ids.issue({
        model: ctx.chat.model,
        versionId: target.versionId,
        versionLabel: target.label,
        role,
        rolloutId: ctx.routing.rolloutId,
        revision: ctx.routing.revision,
        at: Math.floor(Date.now() / 1000),
        stickinessBucket: ctx.bucket,
      });
    this.emit(
      this.outcome(ctx, target, role, id, {
        status:
          err.status ??
          (err.errorClass === 'timeout' ? 504 : err.errorClass === 'client_aborted' ? 499 : 502),
        errorClass: err.errorClass,
        fellBack,
        refusal: false,
        empty: false,
        invalidJson: false,
        latencyMs: performance.now() - ctx.t0,
        ttftMs: null,
        promptTokens: null,
        completionTokens: null,
        outputChars: 0,
      }),
    );
    return id;
  }

  private outcome(
    ctx: Ctx,
    target: UpstreamTarget,
    role: ServingRole,
    requestId: string,
    rest: Pick<
      OutcomeEvent,
      | 'status'
      | 'errorClass'
      | 'fellBack'
      | 'refusal'
      | 'empty'
      | 'invalidJson'
      | 'latencyMs'
      | 'ttftMs'
      | 'promptTokens'
      | 'completionTokens'
      | 'outputChars'
    >,
  ): OutcomeEvent {
    return {
      schema: 'aviary.outcome.v1',
      requestId,
      at: new Date().toISOString(),
      model: ctx.chat.model,
      versionId: target.versionId,
      versionLabel: target.label,
      role,
      rolloutId: ctx.routing.rolloutId,
      revision: ctx.routing.revision,
      stickinessBucket: ctx.bucket,
      stream: ctx.chat.stream,
      jsonRequested: ctx.chat.jsonRequested,
      ...rest,
      latencyMs: round(rest.latencyMs),
      ttftMs: rest.ttftMs === null ? null : round(rest.ttftMs),
    };
  }

  private emit(o: OutcomeEvent): void {
    this.d.metrics.record(o);
    this.d.events.publish(TOPICS.outcomes, eventKey(o), o);
  }
}

interface Ctx {
  readonly chat: ChatRequest;
  readonly routing: DecodedRouting;
  readonly bucket: number | null;
  readonly flagsMs: number;
  readonly t0: number;
  /** When the response was complete (the latency the user saw), if it was. */
  endedAt?: number;
}

/** Resolves after the I/O node:http has queued in this tick (corked writes) has gone out. */
function afterPendingIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function promptChars(chat: ChatRequest): number {
  let n = 0;
  for (const m of chat.messages)
    n += typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content ?? '').length;
  return n;
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
