import { STATUS_CODES, maxHeaderSize, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Why node:http could not make a request of what a client sent: the statuses node:http itself answers. */
export interface ClientErrorKind {
  readonly status: 400 | 408 | 413 | 431;
  /** Stable, snake_case. */
  readonly code: 'malformed_http' | 'request_timeout' | 'request_too_large' | 'request_headers_too_large';
  readonly message: string;
}

/** What to send for a client error: the server's own error shape. */
export interface ClientErrorAnswer {
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export function clientErrorKind(code: string | undefined): ClientErrorKind {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'request_headers_too_large',
        message: `The request headers are larger than this server accepts (${maxHeaderSize} bytes in all).`,
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        status: 413,
        code: 'request_too_large',
        message: 'The chunk extensions of the request body are larger than this server accepts.',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'The request did not arrive in full in time.' };
    default:
      return {
        status: 400,
        code: 'malformed_http',
        message: `The request is not valid HTTP/1.1${code ? ` (${code})` : ''}.`,
      };
  }
}

/**
 * Answers what node:http cannot parse (headers over its limit, a request that does not arrive in
 * time, bytes that are not HTTP/1.1) in the server's own error shape, then closes the connection.
 * node:http's default sends these statuses with an empty body, which no client can show or report.
 */
export function answerClientErrors(
  server: Server,
  render: (kind: ClientErrorKind) => ClientErrorAnswer,
  log?: (message: string) => void,
): void {
  server.on('clientError', (err: Error, socket: Duplex) => answerClientError(err, socket, render, log));
}

/**
 * One client error. There is no request or response object here, so the answer is written to the
 * socket as raw HTTP; as in node's own handler, nothing is written when a response on this
 * connection has already begun (it would corrupt it) or the client is gone.
 */
export function answerClientError(
  err: Error & { code?: string },
  socket: Duplex,
  render: (kind: ClientErrorKind) => ClientErrorAnswer,
  log?: (message: string) => void,
): void {
  // node:http's own property for the response in flight on a connection; its default handler checks it too.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const kind = clientErrorKind(err.code);
  const answer = render(kind);
  const headers = Object.entries(answer.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  log?.(`answered ${kind.status} to what node:http could not parse (${err.code ?? err.message})`);
  socket.end(
    `HTTP/1.1 ${kind.status} ${STATUS_CODES[kind.status] ?? ''}\r\n` +
      `content-type: ${answer.contentType}\r\n` +
      `content-length: ${Buffer.byteLength(answer.body)}\r\n` +
      headers +
      'connection: close\r\n\r\n' +
      answer.body,
    () => socket.destroy(),
  );
  // A client that does not read its answer does not keep the connection.
  setTimeout(() => socket.destroy(), 5_000).unref();
}
