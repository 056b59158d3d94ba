import type { Endpoint, PairEvent } from '@aviary/contracts';
import type { UpstreamTarget } from '@aviary/domain';
import type { Answer, AnswerExpectations, StreamAnswerReader } from '../answers/answer';

/** The part of a request every endpoint shares; an adapter's own request type extends it. */
export interface ProxiedRequest extends AnswerExpectations {
  /** The body as sent; forwarded with `model` replaced by the upstream's model name. */
  readonly body: Record<string, unknown>;
  /** The Aviary model (the flag that routes it). */
  readonly model: string;
  readonly stream: boolean;
  /** The OpenAI `user` field, for stickiness. */
  readonly user: string | null;
  /** Characters of prompt text, to estimate prompt tokens when the upstream reports none. */
  readonly promptChars: number;
}

/** A request the router cannot forward: 400 in OpenAI's shape, naming the parameter. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly param: string | null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export type CaptureMode = 'keep' | 'redact' | 'drop';

/**
 * One OpenAI API the router serves: how to read its requests and its answers. The proxy flow
 * (routing, fallback, writing, evidence, shadow) is the same for every endpoint; an endpoint adds an
 * adapter, not a branch.
 */
export interface EndpointAdapter<R extends ProxiedRequest = ProxiedRequest> {
  /** The API's name in evidence and metrics, e.g. `chat.completions`. */
  readonly name: Endpoint;
  /** Path the router serves, e.g. `/v1/chat/completions`. */
  readonly path: string;
  /** Path under a version's base URL, e.g. `/chat/completions`. */
  readonly upstreamPath: string;
  /** Parses and checks a request body; throws RequestError. Runs on every request: keep it cheap. */
  parse(raw: Buffer): R;
  /** The body sent upstream: the request with the upstream's model name (and, for a shadow copy, its own options). */
  upstreamPayload(request: R, target: UpstreamTarget, purpose: 'serve' | 'shadow'): string;
  /** Reads a complete (non-streamed) answer. */
  readJson(body: Buffer, request: R): Answer;
  /** Reads a streamed answer chunk by chunk, beside the pipe to the client. */
  streamReader(request: R): StreamAnswerReader;
  /** The prompt as a shadow pair records it. */
  pairPrompt(request: R, mode: CaptureMode): PairEvent['prompt'];
  /** Whether a copy can be answered by another version (not when it continues stored state). */
  shadowable?(request: R): boolean;
  /**
   * How alike two answers are (0-1), when text similarity is not the measure (embeddings: cosine of
   * the vectors); undefined: the analyzer compares the texts.
   */
  similarity?(baseline: Answer, shadow: Answer): number | null;
  /** Answers the upstream stores and a later request continues (the Responses API); see StoredThreads. */
  readonly threads?: StoredThreads<R>;
}

/**
 * An API whose answers the upstream stores under an id that a later request names to continue them
 * (the Responses API's `previous_response_id`). Such a follow-up can only be answered by the version
 * that stored it, so the router hands out ids tagged with the thread's origin (apps/router/src/threads)
 * and routes a follow-up the way its thread started.
 */
export interface StoredThreads<R extends ProxiedRequest> {
  /** What the API's ids start with (`resp_`); a tagged id keeps it. */
  readonly idPrefix: string;
  /** The id of the stored answer this request continues, or null. */
  continues(request: R): string | null;
  /** Puts the upstream's own id of the continued answer back into the request before it is forwarded. */
  restore(request: R, upstreamId: string): void;
  /**
   * A thread the request names itself, stable across its turns (the Responses API's `conversation`,
   * a Conversations API object held by one version's upstream), or null.
   */
  conversation(request: R): string | null;
  /** Puts the upstream's own id of the conversation back into the request before it is forwarded. */
  restoreConversation(request: R, upstreamId: string): void;
  /** The stored answer's id in a complete answer. */
  idOfJson(body: Buffer): string | null;
  /** The stored answer's id in the data of a stream's first event. */
  idOfFirstEvent(data: string): string | null;
}
