import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { activeTracer } from '@aviary/observability';

/** Probes and scrapes every few seconds are not requests anyone traces. */
const UNTRACED = /^\/(healthz|readyz|metrics)\b/;

/**
 * A server span per HTTP request (admin API, flag source, status page), active while the request is
 * handled: what the handler starts — a rollout action's flag publish — is its child, so "admin API →
 * flag publish" is one trace. Continues the caller's W3C `traceparent`. Null when tracing is off.
 */
export function traceRequests(): RequestHandler | null {
  const tracer = activeTracer('aviary-control-plane');
  if (!tracer) return null;
  return (req: Request, res: Response, next: NextFunction) => {
    if (UNTRACED.test(req.path)) return next();
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer.startSpan(
      req.method,
      {
        kind: SpanKind.SERVER,
        attributes: { [ATTR_HTTP_REQUEST_METHOD]: req.method, [ATTR_URL_PATH]: req.path },
      },
      parent,
    );
    res.once('close', () => {
      // The route template Nest matched (`/api/v1/rollouts/:id/promote`), known once it was handled.
      const route = (req.route as { path?: unknown } | undefined)?.path;
      if (typeof route === 'string') {
        span.updateName(`${req.method} ${route}`);
        span.setAttribute(ATTR_HTTP_ROUTE, route);
      }
      const status = res.headersSent ? res.statusCode : 499;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      const reqId = (req as { id?: unknown }).id;
      if (typeof reqId === 'string') span.setAttribute('aviary.request_id', reqId);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
