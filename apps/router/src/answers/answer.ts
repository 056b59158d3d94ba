/** A function (or custom) tool call in an answer: the name called and its arguments as sent. */
export interface ToolCall {
  readonly name: string;
  readonly arguments: string;
}

/**
 * What the router reads from an upstream's answer, whatever the endpoint: enough to classify it and
 * count its tokens, never the whole body kept twice.
 */
export interface Answer {
  /** The answer text (content deltas joined, for a stream). */
  readonly text: string;
  /** The model's `refusal` field (chat) or refusal content part (responses), when it set one. */
  readonly refusal: string | null;
  /** Tool calls the answer makes instead of (or beside) text. */
  readonly toolCalls: readonly ToolCall[];
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
  /** The body was not an answer of this endpoint at all. */
  readonly malformed: boolean;
  /** The model the upstream says answered (`model` of the body), when it said (for traces). */
  readonly responseModel?: string | null;
  /** Why each choice stopped (`finish_reason`), when the upstream said (for traces). */
  readonly finishReasons?: readonly string[];
  /** Embedding vectors, for an embeddings answer (then there is no text to classify). */
  readonly vectors?: readonly Float32Array[];
}

/** When the tokens of a stream arrived: time to the first one and the gaps between them. */
export class TokenTimes {
  /** performance.now() of the first token event (text, refusal or tool call); null before. */
  first: number | null = null;
  last: number | null = null;
  count = 0;

  tick(): void {
    const t = performance.now();
    this.first ??= t;
    this.last = t;
    this.count++;
  }

  /** Mean time between token events; null with fewer than two. */
  meanGapMs(): number | null {
    return this.count > 1 && this.first !== null && this.last !== null
      ? (this.last - this.first) / (this.count - 1)
      : null;
  }
}

/** Fed the chunks of a streamed answer as they are piped to the client. */
export interface StreamAnswerReader {
  push(chunk: Uint8Array): void;
  /** When its tokens arrived. */
  readonly tokens: TokenTimes;
  /** The answer as far as it came (a cut stream gives what arrived). */
  finish(): Answer;
}

/** What a request asks of its answer, beyond an answer: for classification. */
export interface AnswerExpectations {
  /** A JSON answer was asked for (json_object or json_schema). */
  readonly jsonRequested: boolean;
  /** The JSON schema the answer must match (json_schema), or undefined. */
  readonly jsonSchema: unknown;
  /** Names of the tools offered; null when none were (then any tool call is one not offered). */
  readonly tools: ReadonlySet<string> | null;
}

export function tokenCount(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
}

export const MALFORMED: Answer = Object.freeze({
  text: '',
  refusal: null,
  toolCalls: [],
  promptTokens: null,
  completionTokens: null,
  malformed: true,
});
