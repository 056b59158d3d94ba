import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import type { ErrorClass } from '@aviary/contracts';
import type { UpstreamTarget } from '@aviary/domain';
import type { AbortSource } from '../http/client-gone';

/** A failed upstream call, classified the way the analyzer counts errors. */
export class UpstreamError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
    readonly status: number | null = null,
    /** The upstream's own error body, passed on for 4xx. */
    readonly body: Buffer | null = null,
    /** What undici or the socket reported (kept for logs; `code` is undici's stable UND_ERR_*). */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }

  /** undici's or the system's error code behind this failure, if any (e.g. UND_ERR_CONNECT_TIMEOUT). */
  get causeCode(): string | null {
    const c = this.cause as { code?: unknown; cause?: { code?: unknown } } | undefined;
    const code = c?.code ?? c?.cause?.code;
    return typeof code === 'string' ? code : null;
  }
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** performance.now() when the call was sent. */
  readonly startedAt: number;
  /** Time to the first body byte. */
  readonly ttfbMs: number;
  /** The first chunk, already read (so a timeout before it could still fall back). */
  readonly first: Buffer | null;
  /** The remaining chunks, as they arrive (for piping a stream). */
  readonly rest: AsyncIterable<Buffer>;
  /** The whole body, first chunk included, once it has ended (for answers that are not streamed). */
  body(): Promise<Buffer>;
  /** Abort the call (client went away). */
  abort(): void;
}

export interface CallOptions {
  /** Until the first body byte, and then between body chunks. */
  readonly timeoutMs: number;
  /** For the whole call, first byte to last (a non-streamed answer that keeps dripping); none if unset. */
  readonly totalTimeoutMs?: number;
  /** Bytes of answer read at most; past it the call is cut and fails as invalid_response. */
  readonly maxBytes?: number;
  /** The client went away: abort. */
  readonly signal?: AbortSource;
  /** Called once when the call is over, however it ended (e.g. to free a concurrency slot). */
  readonly onDone?: () => void;
  /** W3C trace context of the call's span, sent as `traceparent` (tracing on only). */
  readonly traceparent?: string | undefined;
  /** The model the client asked for (names refusals of a credential on /readyz and in metrics). */
  readonly model?: string;
  /** POST (the default, with `payload` as the JSON body); GET and DELETE send no body. */
  readonly method?: 'POST' | 'GET' | 'DELETE';
  /**
   * Appended to the API path (a stored object's id and sub-resource, e.g. `/resp_1/input_items`)
   * and followed by `query`: per-object paths are not kept in the path cache.
   */
  readonly pathSuffix?: string;
  /** A query string (`?…`) for the call, the client's own. */
  readonly query?: string;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

type AbortReason = 'timeout' | 'client' | 'deadline' | 'too_large';

/** Aviary's own causes, in the style of undici's codes (access log, error bodies). */
export const TOTAL_TIMEOUT = 'AVIARY_TOTAL_TIMEOUT';
export const RESPONSE_TOO_LARGE = 'AVIARY_RESPONSE_TOO_LARGE';
/** The version's credential may not be sent to the host its flag names (see CredentialBindings). */
export const UPSTREAM_NOT_ALLOWED = 'AVIARY_UPSTREAM_NOT_ALLOWED';
export const coded = (code: string, message: string) => Object.assign(new Error(message), { code });

/**
 * The headers that authenticate a call to `target` (a credential under its scheme), or an
 * UpstreamError thrown when its credential may not go to that host.
 */
export interface UpstreamCredentials {
  headersFor(target: UpstreamTarget, model: string): Record<string, string>;
}

/** Sends no credential at all (tests and callers that never authenticate). */
const NO_CREDENTIALS: UpstreamCredentials = { headersFor: () => ({}) };

function classify(
  err: unknown,
  abortReason: AbortReason | null,
  opts: CallOptions,
  status: number,
): UpstreamError {
  if (abortReason === 'timeout') return new UpstreamError('timeout', 'the upstream did not answer in time');
  if (abortReason === 'client') return new UpstreamError('client_aborted', 'the client went away');
  if (abortReason === 'deadline') {
    const message = `the upstream did not finish its answer within ${opts.totalTimeoutMs} ms`;
    return new UpstreamError('timeout', message, null, null, coded(TOTAL_TIMEOUT, message));
  }
  if (abortReason === 'too_large') {
    const message = `the upstream's answer is larger than ${opts.maxBytes} bytes`;
    return new UpstreamError(
      'invalid_response',
      message,
      status || null,
      null,
      coded(RESPONSE_TOO_LARGE, message),
    );
  }
  const code =
    (err as { code?: unknown; cause?: { code?: unknown } }).code ??
    (err as { cause?: { code?: unknown } }).cause?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && TIMEOUT_CODES.has(code))
    return new UpstreamError('timeout', `upstream timed out (${code})`, null, null, err);
  if (typeof code === 'string' && CONNECT_CODES.has(code))
    return new UpstreamError('connect', `could not reach the upstream (${code})`, null, null, err);
  return new UpstreamError('connect', `upstream call failed: ${message}`, null, null, err);
}

/**
 * Calls OpenAI-compatible upstreams over keep-alive pools (one per origin). Streams are handed back
 * chunk by chunk, never buffered; the caller pipes them.
 *
 * Built on undici's dispatch handler API rather than `request()`: no Readable stream, no async
 * iteration machinery and no per-call AbortSignal plumbing inside undici — on the router's hot path
 * that was about a third of the router's own CPU per request.
 */
export class UpstreamClient {
  private readonly agent: Agent;
  private readonly endpoints = new Map<string, { origin: string; pathname: string; search: string }>();
  /** Calls not finished yet (for close()). */
  private readonly active = new Set<UpstreamCall>();

  /** Only declared credentials, and only to their hosts (see CredentialBindings). */
  private readonly credentials: UpstreamCredentials;

  constructor(opts: { connectionsPerOrigin?: number; credentials?: UpstreamCredentials } = {}) {
    this.credentials = opts.credentials ?? NO_CREDENTIALS;
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connections: opts.connectionsPerOrigin ?? null,
      pipelining: 1,
      connect: { timeout: 5_000 },
    });
  }

  /**
   * Sends the request and waits for the first body byte (or `timeoutMs`). 5xx answers become
   * UpstreamError('upstream_5xx'); 4xx come back as responses for the caller to pass on.
   */
  async call(
    target: UpstreamTarget,
    apiPath: string,
    payload: string,
    opts: CallOptions,
  ): Promise<UpstreamResponse> {
    const { origin, pathname, search } = this.endpoint(target.baseUrl, apiPath);
    const method = opts.method ?? 'POST';
    // The client's query after the base URL's own (e.g. Azure's `?api-version=`).
    const query = opts.query ? (search ? `${search}&${opts.query.slice(1)}` : opts.query) : search;
    const path = `${pathname}${opts.pathSuffix ?? ''}${query}`;
    let auth: Record<string, string>;
    try {
      auth = this.credentials.headersFor(target, opts.model ?? target.label);
    } catch (err) {
      opts.onDone?.(); // nothing was sent: the slot is free again
      throw err;
    }
    const headers: Record<string, string> =
      method === 'POST'
        ? { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...auth }
        : { accept: 'application/json, text/event-stream', ...auth };
    if (opts.traceparent) headers['traceparent'] = opts.traceparent;
    const call = new UpstreamCall(opts, () => this.active.delete(call));
    this.active.add(call);
    try {
      this.agent.dispatch(
        {
          origin,
          path,
          method,
          headers,
          body: method === 'POST' ? payload : null,
          headersTimeout: opts.timeoutMs,
          bodyTimeout: opts.timeoutMs,
        },
        call,
      );
    } catch (err) {
      call.fail(err); // e.g. the agent is closed: undici throws instead of calling the handler
    }
    const res = await call.firstByte;
    if (res.status >= 500) {
      const body = await res.body().catch(() => res.first ?? Buffer.alloc(0));
      throw new UpstreamError('upstream_5xx', `upstream answered ${res.status}`, res.status, body);
    }
    return res;
  }

  /**
   * Lets calls in flight finish for up to `graceMs`, then cuts them. Called once the server has
   * answered every user request, so what is left are shadow copies (timeouts up to
   * AVIARY_SHADOW_TIMEOUT_MS) that must not hold a shutdown. (undici's `close()` would wait for them,
   * and a `destroy()` after `close()` no longer fails them, hence the own count.)
   */
  async close(graceMs = 1_000): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await this.agent.destroy(new Error('the router is shutting down'));
  }

  /** `apiPath` (e.g. `/chat/completions`) under the version's base URL (e.g. `http://vllm:8000/v1`). */
  private endpoint(baseUrl: string, apiPath: string): { origin: string; pathname: string; search: string } {
    const key = `${baseUrl} ${apiPath}`;
    let e = this.endpoints.get(key);
    if (!e) {
      const url = new URL(`${baseUrl.replace(/\/+$/, '')}${apiPath}`);
      e = { origin: url.origin, pathname: url.pathname, search: url.search };
      this.endpoints.set(key, e);
    }
    return e;
  }
}

/** Chunks buffered ahead of a slow reader before the upstream socket is paused. */
const HIGH_WATER_CHUNKS = 64;

/**
 * One upstream call: an undici dispatch handler that resolves `firstByte` at the first body chunk (or
 * the end of an empty body) and then hands the rest over through a small queue, pausing the socket when
 * the reader falls behind.
 */
class UpstreamCall implements Dispatcher.DispatchHandler {
  readonly firstByte: Promise<UpstreamResponse>;
  private resolveFirst!: (r: UpstreamResponse) => void;
  private rejectFirst!: (e: UpstreamError) => void;
  private controller: Dispatcher.DispatchController | null = null;
  private readonly started = performance.now();
  private timer: NodeJS.Timeout | null;
  private deadline: NodeJS.Timeout | null = null;
  private abortReason: AbortReason | null = null;
  private bytes = 0;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private delivered = false;
  private first: Buffer | null = null;
  /** Chunks after the first, not yet taken by the reader (`head` is the next one). */
  private readonly queue: Buffer[] = [];
  private head = 0;
  private ended = false;
  private error: UpstreamError | null = null;
  private wake: (() => void) | null = null;
  private done = false;
  /** body() is reading everything: no point pausing the socket. */
  private collecting = false;

  constructor(
    private readonly opts: CallOptions,
    private readonly onFinished: () => void,
  ) {
    this.firstByte = new Promise((resolve, reject) => {
      this.resolveFirst = resolve;
      this.rejectFirst = reject;
    });
    this.timer = setTimeout(() => this.abort('timeout'), opts.timeoutMs);
    if (opts.totalTimeoutMs !== undefined)
      this.deadline = setTimeout(() => this.abort('deadline'), opts.totalTimeoutMs);
    if (opts.signal) {
      if (opts.signal.aborted) this.abortReason = 'client';
      else opts.signal.addEventListener('abort', this.onClientAbort, { once: true });
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(new Error(`aborted (${this.abortReason})`));
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    if (status < 200) return; // 1xx informational
    this.status = status;
    this.headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.opts.maxBytes !== undefined && this.bytes > this.opts.maxBytes) {
      this.abort('too_large');
      return;
    }
    if (!this.delivered) {
      this.first = chunk;
      this.deliver();
      return;
    }
    this.queue.push(chunk);
    if (!this.collecting && this.queue.length - this.head >= HIGH_WATER_CHUNKS) controller.pause();
    this.notify();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.finish();
    if (!this.delivered) this.deliver();
    this.notify();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  fail(err: unknown): void {
    this.error = classify(err, this.abortReason, this.opts, this.status);
    this.finish();
    if (!this.delivered) {
      this.delivered = true;
      this.rejectFirst(this.error);
    }
    this.notify();
  }

  private readonly onClientAbort = (): void => this.abort('client');

  private abort(reason: AbortReason): void {
    if (this.done) return;
    this.abortReason ??= reason;
    // Before onRequestStart there is no controller yet; onRequestStart aborts then.
    this.controller?.abort(new Error(`aborted (${reason})`));
  }

  private deliver(): void {
    this.delivered = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.resolveFirst({
      status: this.status,
      headers: this.headers,
      startedAt: this.started,
      ttfbMs: performance.now() - this.started,
      first: this.first,
      rest: { [Symbol.asyncIterator]: () => this.iterator() },
      body: () => this.body(),
      abort: this.onClientAbort,
    });
  }

  /** Releases everything the call held, once. */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.timer = this.deadline = null;
    this.opts.signal?.removeEventListener('abort', this.onClientAbort);
    this.onFinished();
    this.opts.onDone?.();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async next(): Promise<IteratorResult<Buffer>> {
    for (;;) {
      if (this.head < this.queue.length) {
        const value = this.queue[this.head] as Buffer;
        this.queue[this.head++] = EMPTY;
        if (this.head === this.queue.length) this.queue.length = this.head = 0;
        if (this.controller?.paused && this.queue.length - this.head < HIGH_WATER_CHUNKS / 2)
          this.controller.resume();
        return { done: false, value };
      }
      if (this.error) throw this.error;
      if (this.ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private iterator(): AsyncIterator<Buffer> {
    return {
      next: () => this.next(),
      return: () => {
        this.abort('client');
        return Promise.resolve({ done: true as const, value: undefined });
      },
    };
  }

  private async body(): Promise<Buffer> {
    this.collecting = true;
    while (!this.ended) {
      if (this.error) throw this.error;
      if (this.controller?.paused) this.controller.resume();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.error) throw this.error;
    const chunks = this.queue.slice(this.head);
    if (this.first) chunks.unshift(this.first);
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  }
}

const EMPTY = Buffer.alloc(0);
