import type { ServerResponse } from 'node:http';

export type OpenAiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'upstream_error'
  | 'timeout_error';

/** Error bodies in OpenAI's shape, so SDKs raise their usual exceptions. */
export function sendError(
  res: ServerResponse,
  status: number,
  type: OpenAiErrorType,
  message: string,
  opts: { param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    error: { message, type, param: opts.param ?? null, code: opts.code ?? null },
  });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(opts.headers ?? {}),
  });
  res.end(body);
}
