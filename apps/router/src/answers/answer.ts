/**
 * What the router reads from an upstream's answer, whatever the endpoint: enough to classify it and
 * count its tokens, never the whole body kept twice.
 */
export interface Answer {
  /** The answer text (content deltas joined, for a stream). */
  readonly text: string;
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
  /** The body was not an answer of this endpoint at all. */
  readonly malformed: boolean;
}

/** Fed the chunks of a streamed answer as they are piped to the client. */
export interface StreamAnswerReader {
  push(chunk: Uint8Array): void;
  /** performance.now() when the first token (text, tool call or refusal) arrived; null before. */
  readonly firstTokenAt: number | null;
  /** The answer as far as it came (a cut stream gives what arrived). */
  finish(): Answer;
}

export function tokenCount(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
}

export const MALFORMED: Answer = Object.freeze({
  text: '',
  promptTokens: null,
  completionTokens: null,
  malformed: true,
});
