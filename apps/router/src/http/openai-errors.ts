import type { ServerResponse } from 'node:http';
import type { ClientErrorAnswer, ClientErrorKind } from '@aviary/http';
import { type RequestScope, unsignedRequestId } from './request-scope';

export type OpenAiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'insufficient_quota'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'upstream_error'
  | 'timeout_error';

/** An error answer in OpenAI's shape, before it is sent. */
export interface ErrorAnswer {
  readonly status: number;
  readonly type: OpenAiErrorType;
  readonly code: string;
  readonly message: string;
  readonly param?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

export function sendAnswer(res: ServerResponse, scope: RequestScope, a: ErrorAnswer): void {
  sendError(res, scope, a.status, a.type, a.message, {
    code: a.code,
    param: a.param ?? null,
    ...(a.headers ? { headers: { ...a.headers } } : {}),
  });
}

/**
 * Error bodies in OpenAI's shape, so SDKs raise their usual exceptions; every one carries the
 * request's `x-aviary-request-id` (the same id as its access-log line and outcome event).
 */
/** 404 for a model the router has no routing for; `param` names where the model was given. */
export function sendModelNotFound(
  res: ServerResponse,
  scope: RequestScope,
  model: string,
  param = 'model',
): void {
  sendError(
    res,
    scope,
    404,
    'invalid_request_error',
    `The model \`${model}\` does not exist or is not routed by Aviary.`,
    {
      param,
      code: 'model_not_found',
    },
  );
}

/**
 * No routing for a model: 503 while the router has not received any routing yet (retry), else the
 * model is not routed (404).
 */
export function sendUnrouted(
  res: ServerResponse,
  scope: RequestScope,
  ready: boolean,
  model: string,
  param = 'model',
): void {
  if (!ready)
    return sendError(
      res,
      scope,
      503,
      'server_error',
      'Aviary has not received any routing yet (the flag source has not answered); retry shortly.',
      { code: 'routing_unavailable', headers: { 'retry-after': '2' } },
    );
  sendModelNotFound(res, scope, model, param);
}

/** 403 for a caller that sent the force-version header without the right to. */
export function sendForceRefused(res: ServerResponse, scope: RequestScope, header: string): void {
  sendError(
    res,
    scope,
    403,
    'permission_error',
    `This caller may not force a version with ${header}: only router keys created with mayForceVersion (aviary keys create … --may-force-version) or named in AVIARY_FORCE_VERSION_KEYS may.`,
    { code: 'force_version_not_allowed' },
  );
}

/** 413 for a request body over the router's limit (AVIARY_ROUTER_MAX_BODY_BYTES). */
export function sendBodyTooLarge(res: ServerResponse, scope: RequestScope, limit: number): void {
  sendError(res, scope, 413, 'invalid_request_error', `The request body is larger than ${limit} bytes.`, {
    code: 'request_too_large',
  });
}

export function sendError(
  res: ServerResponse,
  scope: RequestScope,
  status: number,
  type: OpenAiErrorType,
  message: string,
  opts: { param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(message, type, opts.param ?? null, opts.code ?? null);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-aviary-request-id': scope.requestId,
    ...(opts.headers ?? {}),
  });
  res.end(body);
}

/**
 * The router's answer to what node:http could not parse (see `answerClientErrors`): OpenAI's shape and
 * a request id of its own, like every other answer, so the client's SDK raises its usual error.
 */
export function openAiClientError(kind: ClientErrorKind): ClientErrorAnswer {
  const type: OpenAiErrorType = kind.status === 408 ? 'timeout_error' : 'invalid_request_error';
  return {
    contentType: 'application/json',
    body: errorBody(kind.message, type, null, kind.code),
    headers: { 'x-aviary-request-id': unsignedRequestId() },
  };
}

function errorBody(
  message: string,
  type: OpenAiErrorType,
  param: string | null,
  code: string | null,
): string {
  return JSON.stringify({ error: { message, type, param, code } });
}
