import type { ServerResponse } from 'node:http';
import { UpstreamError, type UpstreamResponse } from '../upstream/upstream-client';

const round = (ms: number) => Math.round(ms * 100) / 100;

/** `Server-Timing` of an answer: flag evaluation, upstream first byte and (when known) the total. */
export function serverTiming(flagsMs: number, ttfbMs: number, totalMs?: number): string {
  const head = `flags;dur=${round(flagsMs)}, upstream;dur=${round(ttfbMs)};desc="first byte"`;
  return totalMs === undefined ? head : `${head}, total;dur=${round(totalMs)}`;
}

/** Writes a complete answer (the upstream's status and content type) with the router's headers. */
export function writeBuffered(
  res: ServerResponse,
  up: UpstreamResponse,
  body: Buffer,
  headers: Record<string, string>,
): void {
  // The router's headers are spread last (they never name these two): see SPREAD_THEN_KEYS.
  res.writeHead(up.status, {
    'content-type': String(up.headers['content-type'] ?? 'application/json'),
    'content-length': String(body.length),
    ...headers,
  });
  res.end(body);
}

/** How piping a stream to the client ended. */
export interface StreamEnd {
  /** The client went away before the end. */
  readonly clientGone: boolean;
  /** The upstream broke off (after the headers were sent, so the stream was cut). */
  readonly error: UpstreamError | null;
}

/** Changes the bytes of a stream on their way to the client (chunk in, bytes to write now out). */
export interface ChunkRewriter {
  push(chunk: Buffer): Buffer;
  /** What it still holds at the end of the stream. */
  end(): Buffer;
}

/**
 * Pipes an SSE answer to the client chunk by chunk, handing each chunk (as the upstream sent it) to
 * `onChunk` beside the pipe (never in front of it), and waits for the client when its socket is full.
 * A `rewrite` changes what the client is sent.
 */
export async function pipeStream(
  res: ServerResponse,
  up: UpstreamResponse,
  headers: Record<string, string>,
  onChunk: (chunk: Buffer) => void,
  rewrite: ChunkRewriter | null = null,
): Promise<StreamEnd> {
  res.writeHead(up.status, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...headers,
  });
  // The chunk goes out first; reading it for the evidence (SSE parsing, JSON) comes after.
  const write = async (c: Buffer) => {
    const out = rewrite ? rewrite.push(c) : c;
    const flowing = out.length === 0 || res.write(out);
    onChunk(c);
    if (!flowing) await drainOrClose(res);
  };
  try {
    if (up.first) await write(up.first);
    for await (const c of up.rest) {
      if (res.destroyed) return { clientGone: true, error: null };
      await write(c);
    }
  } catch (err) {
    const error =
      err instanceof UpstreamError ? err : new UpstreamError('connect', String(err), null, null, err);
    const clientGone = error.errorClass === 'client_aborted' || res.destroyed;
    // The stream broke after the headers went out: all that can be done is to end it.
    if (!clientGone) res.destroy();
    return { clientGone, error };
  }
  const rest = rewrite?.end();
  if (rest && rest.length > 0) res.end(rest);
  else res.end();
  return { clientGone: false, error: null };
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

/** Resolves after the I/O node:http has queued in this tick (corked writes) has gone out. */
export function afterPendingIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
