import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Attributes,
  type Context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { Endpoint } from '@aviary/contracts';
import type { UpstreamTarget } from '@aviary/domain';
import { activeTracer } from '@aviary/observability';
import type { Side } from '../evidence/evidence-recorder';
import type { Exchange } from '../serving/exchange';
import { UpstreamError } from '../upstream/upstream-client';
import type { RequestScope } from './request-scope';

/** GenAI semantic conventions' operation for each API the router proxies. */
const OPERATION: Record<Endpoint, string> = {
  'chat.completions': 'chat',
  responses: 'chat',
  completions: 'text_completion',
  embeddings: 'embeddings',
};
/** The API spoken: every upstream is OpenAI-compatible (server.address names the one called). */
const PROVIDER = 'openai';

/**
 * The router's OpenTelemetry tracer. Exists only while tracing is on (`RouterTracing.start()` is
 * null otherwise), so the request path pays one null check and allocates nothing when it is off.
 */
export class RouterTracing {
  private constructor(private readonly tracer: Tracer) {}

  static start(): RouterTracing | null {
    const tracer = activeTracer('aviary-router');
    return tracer ? new RouterTracing(tracer) : null;
  }

  /** The server span of one request, continuing the caller's W3C `traceparent` if it sent one. */
  request(
    req: IncomingMessage,
    res: ServerResponse,
    scope: RequestScope,
    route: string | null,
  ): RequestTrace {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: scope.method,
      [ATTR_URL_PATH]: scope.path,
    };
    if (route) attributes[ATTR_HTTP_ROUTE] = route;
    // HTTP semantic conventions: `{method} {route}`, the method alone when no route matched.
    const name = route ? `${scope.method} ${route}` : scope.method;
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    const t = new RequestTrace(this.tracer, trace.setSpan(parent, span), span);
    res.once('close', () => t.end(scope, res));
    return t;
  }
}

/** One request's spans: the server span and its children (route decision, upstream, shadow). */
export class RequestTrace {
  /** The serving upstream call in flight (a failed candidate's ends before the fallback's starts). */
  private upstream: UpstreamSpan | null = null;

  constructor(
    private readonly tracer: Tracer,
    private readonly context: Context,
    private readonly span: Span,
  ) {}

  /** The trace this request belongs to (the caller's, when it sent a traceparent), for log lines. */
  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  /** The flag evaluation that routed the exchange, as a span over the time it took. */
  routed(x: Exchange, startedAt: number): void {
    const { routing } = x;
    const attributes: Attributes = {
      'aviary.model': x.request.model,
      'aviary.version': routing.target.label,
      'aviary.version_id': routing.target.versionId,
      'aviary.role': routing.role,
      'aviary.rollout.revision': routing.revision,
      'aviary.candidate_weight': routing.candidateWeight,
      'aviary.forced': x.forced === true,
      'aviary.cohort': routing.cohort === true,
    };
    if (routing.rolloutId) attributes['aviary.rollout.id'] = routing.rolloutId;
    if (x.bucket !== null) attributes['aviary.bucket'] = x.bucket;
    if (routing.shadow) attributes['aviary.shadow.version'] = routing.shadow.target.label;
    this.tracer
      .startSpan('aviary.route', { startTime: startedAt, attributes }, this.context)
      .end(startedAt + x.flagsMs);
  }

  /** Starts the span of a serving call; returns the `traceparent` to send the upstream. */
  startUpstream(x: Exchange, target: UpstreamTarget, role: string): string | undefined {
    this.upstream?.fail(null);
    this.upstream = new UpstreamSpan(this.tracer, this.context, x, target, role);
    return this.upstream.traceparent;
  }

  /** Ends the serving call's span with the error, if it fails before it answers. */
  watchUpstream<T>(call: Promise<T>): Promise<T> {
    const span = this.upstream;
    return call.catch((err: unknown) => {
      span?.fail(err);
      throw err;
    });
  }

  /** Ends the serving call's span with what it answered (tokens, finish reasons) or how it failed. */
  endUpstream(side: Side): void {
    this.upstream?.end(side);
    this.upstream = null;
  }

  failUpstream(err: unknown): void {
    this.upstream?.fail(err);
    this.upstream = null;
  }

  /** A span for the shadow copy: a child of the request, ended whenever the copy ends. */
  shadow(x: Exchange, target: UpstreamTarget): UpstreamSpan {
    return new UpstreamSpan(this.tracer, this.context, x, target, 'shadow');
  }

  /** The response is over; the upstream span ends on its own (its evidence is read after the answer). */
  end(scope: RequestScope, res: ServerResponse): void {
    const status = res.headersSent ? res.statusCode : 499;
    const s = this.span;
    s.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    s.setAttribute('aviary.request_id', scope.requestId);
    if (scope.model !== null) s.setAttribute('aviary.model', scope.model);
    if (scope.version !== null) s.setAttribute('aviary.version', scope.version);
    if (scope.role !== null) s.setAttribute('aviary.role', scope.role);
    if (scope.errorClass !== null) s.setAttribute(ATTR_ERROR_TYPE, scope.errorClass);
    // Server spans are errors for 5xx only (HTTP semantic conventions): a 4xx is the caller's.
    if (status >= 500) s.setStatus({ code: SpanStatusCode.ERROR });
    s.end();
  }
}

/** One call to an upstream (serving or shadow), with the GenAI semantic conventions' attributes. */
export class UpstreamSpan {
  readonly traceparent: string | undefined;
  private readonly span: Span;
  private ended = false;

  constructor(tracer: Tracer, parent: Context, x: Exchange, target: UpstreamTarget, role: string) {
    const operation = OPERATION[x.endpoint.name];
    const attributes: Attributes = {
      'gen_ai.operation.name': operation,
      'gen_ai.provider.name': PROVIDER,
      'gen_ai.system': PROVIDER,
      'gen_ai.request.model': target.upstreamModel,
      'aviary.version': target.label,
      'aviary.role': role,
    };
    try {
      const url = new URL(target.baseUrl);
      attributes[ATTR_SERVER_ADDRESS] = url.hostname;
      attributes[ATTR_SERVER_PORT] = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    } catch {
      // a base URL the router could not call anyway; the call's own error says so
    }
    this.span = tracer.startSpan(
      `${operation} ${target.upstreamModel}`,
      { kind: SpanKind.CLIENT, attributes },
      parent,
    );
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(parent, this.span), carrier);
    this.traceparent = carrier['traceparent'];
  }

  end(side: Side): void {
    if (this.ended) return;
    this.ended = true;
    const s = this.span;
    s.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, side.status);
    const a = side.answer;
    if (a) {
      if (a.responseModel) s.setAttribute('gen_ai.response.model', a.responseModel);
      if (a.promptTokens !== null) s.setAttribute('gen_ai.usage.input_tokens', a.promptTokens);
      if (a.completionTokens !== null) s.setAttribute('gen_ai.usage.output_tokens', a.completionTokens);
      if (a.finishReasons && a.finishReasons.length > 0)
        s.setAttribute('gen_ai.response.finish_reasons', [...a.finishReasons]);
    }
    if (side.errorClass !== null) {
      s.setAttribute(ATTR_ERROR_TYPE, side.errorClass);
      s.setStatus({ code: SpanStatusCode.ERROR, message: side.errorClass });
    }
    s.end();
  }

  /** Ends the span as failed (`err` null: abandoned for another attempt). */
  fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const s = this.span;
    const errorClass = err instanceof UpstreamError ? err.errorClass : err === null ? 'abandoned' : 'error';
    s.setAttribute(ATTR_ERROR_TYPE, errorClass);
    if (err instanceof UpstreamError && err.status !== null)
      s.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, err.status);
    s.setStatus({
      code: SpanStatusCode.ERROR,
      message: err instanceof Error ? err.message : errorClass,
    });
    s.end();
  }
}
