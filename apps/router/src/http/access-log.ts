import type { ServerResponse } from 'node:http';
import pino, { type DestinationStream } from 'pino';
import type { RequestScope } from './request-scope';

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Lines are written once this many bytes are waiting (about 30 lines)… */
const BATCH_BYTES = 8192;
/** …or this often, whichever comes first, so a quiet router's lines are at most this late. */
const FLUSH_EVERY_MS = 200;

/**
 * Where access-log lines go by default: `dest` (a file descriptor or path, stdout by default),
 * written asynchronously and in batches. One write per line cost the router more main-thread time
 * than its own request handling (an fs.write round trip per request, ~20% of the router's CPU in
 * the benchmark's profile); batched, it is one write per ~30 lines. Lines still waiting are flushed
 * on close and at exit (pino's exit hook).
 */
export function accessLogDestination(dest: number | string = 1): DestinationStream {
  return pino.destination({ dest, sync: false, minLength: BATCH_BYTES, periodicFlush: FLUSH_EVERY_MS });
}

/** pino's destination (sonic-boom) can be flushed; a plain stream (in tests) need not be. */
type FlushableDestination = DestinationStream & { flush?: (cb: (err?: Error) => void) => void };

/** pino's number for `info`: the lines read like the router's other (pino) log lines. */
const INFO = 30;

/**
 * One structured JSON line per request, in pino's line format (`level`, `time`, `service`, the
 * fields, `msg`), written through pino's asynchronous batched destination so a slow stdout never
 * blocks the event loop: request id, method, path, endpoint, model, version, role, status, latency,
 * whether it streamed, the router key's id, the error class and cause of a failure, and the trace id
 * while tracing is on. The line is one `JSON.stringify` of a flat object rather than a pino
 * `logger.info` call: pino's generic serializer (bindings, mixins, per-key string building) made
 * 14% of all the bytes the router allocated in the benchmark (a heap sampling profile), for a line
 * whose shape never changes. Fields that are undefined are left out, as pino does.
 */
export class AccessLog {
  constructor(private readonly destination: FlushableDestination = accessLogDestination()) {}

  /** Writes the line when the response is over (sent, or the client left). */
  watch(scope: RequestScope, res: ServerResponse): void {
    res.once('close', () => this.write(scope, res));
  }

  flush(): Promise<void> {
    const { destination } = this;
    return new Promise((resolve) => (destination.flush ? destination.flush(() => resolve()) : resolve()));
  }

  private write(scope: RequestScope, res: ServerResponse): void {
    const line = JSON.stringify({
      level: INFO,
      time: new Date().toISOString(),
      service: 'aviary-router',
      requestId: scope.requestId,
      method: scope.method,
      path: scope.path,
      endpoint: scope.endpoint,
      model: scope.model,
      version: scope.version,
      role: scope.role,
      // 499 (nginx's word): the client left before an answer was sent.
      status: res.headersSent ? res.statusCode : 499,
      completed: res.writableFinished,
      latencyMs: round(performance.now() - scope.t0),
      stream: scope.stream,
      keyId: scope.keyId,
      errorClass: scope.errorClass,
      cause: scope.cause,
      // Only while tracing is on: the trace of this request, to open it from the line.
      traceId: scope.trace?.traceId,
      msg: 'request',
    });
    this.destination.write(`${line}\n`);
  }
}
