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
