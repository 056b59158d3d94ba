import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request } from 'undici';
import type { ErrorClass } from '@aviary/contracts';
import type { UpstreamTarget } from '@aviary/domain';

/** A failed upstream call, classified the way the analyzer counts errors. */
export class UpstreamError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
    readonly status: number | null = null,
    /** The upstream's own error body, passed on for 4xx. */
    readonly body: Buffer | null = null,
  ) {
    super(message);
  }
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Time to the first body byte. */
  readonly ttfbMs: number;
  /** The first chunk, already read (so a timeout before it could still fall back). */
  readonly first: Buffer | null;
  /** The remaining chunks. */
  readonly rest: AsyncIterable<Buffer>;
  /** Abort the call (client went away). */
  abort(): void;
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

function classify(err: unknown, abortReason: 'timeout' | 'client' | null): UpstreamError {
  if (abortReason === 'timeout') return new UpstreamError('timeout', 'the upstream did not answer in time');
  if (abortReason === 'client') return new UpstreamError('client_aborted', 'the client went away');
  const code =
    (err as { code?: unknown; cause?: { code?: unknown } }).code ??
    (err as { cause?: { code?: unknown } }).cause?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && TIMEOUT_CODES.has(code))
    return new UpstreamError('timeout', `upstream timed out (${code})`);
  if (typeof code === 'string' && CONNECT_CODES.has(code))
    return new UpstreamError('connect', `could not reach the upstream (${code})`);
  return new UpstreamError('connect', `upstream call failed: ${message}`);
}

/**
 * Calls OpenAI-compatible upstreams over keep-alive pools (one per origin). Streams are handed back
 * chunk by chunk, never buffered; the caller pipes them.
 */
export class UpstreamClient {
  private readonly agent: Agent;

  constructor(opts: { connectionsPerOrigin?: number } = {}) {
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
    payload: string,
    opts: { timeoutMs: number; signal?: AbortSignal; apiKey: string | null },
  ): Promise<UpstreamResponse> {
    const controller = new AbortController();
    let abortReason: 'timeout' | 'client' | null = null;
    const timer = setTimeout(() => {
      abortReason = 'timeout';
      controller.abort();
    }, opts.timeoutMs);
    const onClientAbort = () => {
      abortReason ??= 'client';
      controller.abort();
    };
    opts.signal?.addEventListener('abort', onClientAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onClientAbort);
    };
    const started = performance.now();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (opts.apiKey) headers['authorization'] = `Bearer ${opts.apiKey}`;
    try {
      const res = await request(`${target.baseUrl.replace(/\/+$/, '')}/chat/completions`, {
        method: 'POST',
        headers,
        body: payload,
        dispatcher: this.agent,
        signal: controller.signal,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
      const iterator = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const firstResult = await iterator.next();
      clearTimeout(timer);
      const ttfbMs = performance.now() - started;
      const first = firstResult.done ? null : firstResult.value;
      if (res.statusCode >= 500) {
        const rest = await drain(iterator);
        cleanup();
        const body = first ? Buffer.concat([first, rest]) : rest;
        throw new UpstreamError('upstream_5xx', `upstream answered ${res.statusCode}`, res.statusCode, body);
      }
      const rest: AsyncIterable<Buffer> = {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            try {
              const r = await iterator.next();
              if (r.done) cleanup();
              return r;
            } catch (err) {
              cleanup();
              throw classify(err, abortReason);
            }
          },
          return: () => {
            cleanup();
            controller.abort();
            return Promise.resolve({ done: true as const, value: undefined });
          },
        }),
      };
      return { status: res.statusCode, headers: res.headers, ttfbMs, first, rest, abort: onClientAbort };
    } catch (err) {
      cleanup();
      if (err instanceof UpstreamError) throw err;
      throw classify(err, abortReason);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

async function drain(iterator: AsyncIterator<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) chunks.push(r.value);
  } catch {
    // A broken error body is still an error.
  }
  return Buffer.concat(chunks);
}
