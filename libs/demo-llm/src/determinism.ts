import type { FullBehaviour } from './behaviour';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a (32 bit) over raw bytes: the request body as received. */
export function hashBytes(bytes: Uint8Array, hash = FNV_OFFSET): number {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** FNV-1a (32 bit) over UTF-16 code units. */
export function hashString(text: string, hash = FNV_OFFSET): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** A 32-bit avalanche mix (the lowbias32 finaliser). */
export function mix32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The per-request state every decision about that request is drawn from. */
export function requestState(seed: number, bodyHash: number, sequence: number): number {
  return mix32(mix32(seed ^ bodyHash) ^ Math.imul(sequence, 0x9e3779b1));
}

/**
 * The k-th uniform draw in [0, 1) for a request. Draws are indexed rather than sequential so each
 * decision always uses the same draw: raising one rate never reshuffles the others, and raising a rate
 * from 0.2 to 0.5 keeps the requests that already failed at 0.2.
 */
export function draw(state: number, k: number): number {
  return mix32(state ^ Math.imul(k + 1, 0x85ebca6b)) / 4294967296;
}

export type Fate = 'ok' | 'refusal' | 'empty' | 'brokenJson' | 'error' | 'hang' | 'drop';

export interface Decision {
  readonly fate: Fate;
  /** Before the first byte (drops and errors wait too; hangs never answer). */
  readonly delayMs: number;
  /** Picks among wordings (refusal text, broken JSON style). */
  readonly variant: number;
  /** A tool call, if the answer is one, is broken (badToolCallRate). */
  readonly badToolCall: boolean;
  /** A json_schema answer is valid JSON that does not match the schema (schemaViolationRate). */
  readonly schemaViolation: boolean;
}

/** What happens to one request, as a pure function of the behaviour and the request state. */
export function decide(b: Readonly<FullBehaviour>, state: number, jsonRequested: boolean): Decision {
  let fate: Fate = 'ok';
  if (b.connectionDropRate > 0 && draw(state, 1) < b.connectionDropRate) fate = 'drop';
  else if (b.hangRate > 0 && draw(state, 2) < b.hangRate) fate = 'hang';
  else if (b.errorRate > 0 && draw(state, 3) < b.errorRate) fate = 'error';
  else if (b.refusalRate > 0 && draw(state, 4) < b.refusalRate) fate = 'refusal';
  else if (b.emptyRate > 0 && draw(state, 5) < b.emptyRate) fate = 'empty';
  else if (jsonRequested && b.brokenJsonRate > 0 && draw(state, 6) < b.brokenJsonRate) fate = 'brokenJson';
  const jitter = b.latencyJitterMs > 0 ? (draw(state, 0) * 2 - 1) * b.latencyJitterMs : 0;
  return {
    fate,
    delayMs: Math.max(0, Math.round(b.latencyMs + jitter)),
    variant: mix32(state ^ 0x5bd1e995),
    badToolCall: b.badToolCallRate > 0 && draw(state, 7) < b.badToolCallRate,
    schemaViolation: jsonRequested && b.schemaViolationRate > 0 && draw(state, 8) < b.schemaViolationRate,
  };
}
