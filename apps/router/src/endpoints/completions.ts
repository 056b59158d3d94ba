import type { PairEvent } from '@aviary/contracts';
import { applyParameters, COMPLETIONS_PARAMETER_FIELDS, type UpstreamTarget } from '@aviary/domain';
import { type Answer, MALFORMED, type StreamAnswerReader, TokenTimes, tokenCount } from '../answers/answer';
import { SseEvents } from '../answers/sse-events';
import { type CaptureMode, type EndpointAdapter, type ProxiedRequest, RequestError } from './endpoint';
import { commonFields, parseJsonObject, promptOf, shadowBody, withModel } from './request-fields';

/** A legacy completions request: a prompt (string, strings, or token ids) instead of messages. */
export interface CompletionRequest extends ProxiedRequest {
  /** The prompt as text, for pairs (token-id prompts are described, not decoded). */
  readonly promptText: string;
}

function promptText(prompt: unknown): string | null {
  if (typeof prompt === 'string') return prompt;
  if (!Array.isArray(prompt) || prompt.length === 0) return null;
  if (prompt.every((p) => typeof p === 'string')) return prompt.join('\n');
  if (prompt.every((p) => typeof p === 'number')) return `[${prompt.length} tokens]`;
  if (prompt.every((p) => Array.isArray(p) && p.every((t) => typeof t === 'number')))
    return `[${prompt.length} token prompts]`;
  return null;
}

export function parseCompletionRequest(raw: Buffer): CompletionRequest {
  const body = parseJsonObject(raw);
  const common = commonFields(body);
  const text = promptText(body['prompt']);
  if (text === null)
    throw new RequestError(
      "'prompt' must be a string, an array of strings, or token ids (an array of integers, or of arrays of integers).",
      'prompt',
    );
  return {
    body,
    jsonRequested: false,
    jsonSchema: undefined,
    tools: null,
    promptChars: text.length,
    promptText: text,
    ...common, // last (its keys are not repeated): see SPREAD_THEN_KEYS in eslint.config.mjs
  };
}

type Completion = {
  model?: unknown;
  choices?: Array<{ text?: unknown; finish_reason?: unknown }>;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
};

export function readTextCompletion(raw: Buffer): Answer {
  let c: Completion;
  try {
    c = JSON.parse(raw.toString('utf8')) as Completion;
  } catch {
    return MALFORMED;
  }
  if (typeof c !== 'object' || c === null || !Array.isArray(c.choices)) return MALFORMED;
  const text = c.choices[0]?.text;
  return {
    text: typeof text === 'string' ? text : '',
    refusal: null,
    toolCalls: [],
    promptTokens: tokenCount(c.usage?.prompt_tokens),
    completionTokens: tokenCount(c.usage?.completion_tokens),
    malformed: false,
    responseModel: typeof c.model === 'string' ? c.model : null,
    finishReasons: c.choices.flatMap((x) => (typeof x?.finish_reason === 'string' ? [x.finish_reason] : [])),
  };
}

/** A streamed text completion: `text_completion` chunks, then `[DONE]`. */
export class CompletionStreamReader implements StreamAnswerReader {
  private readonly parts: string[] = [];
  private promptTokens: number | null = null;
  private completionTokens: number | null = null;
  private sawChunk = false;
  private model: string | null = null;
  private readonly finished: string[] = [];
  private readonly events = new SseEvents(({ data }) => this.onData(data));
  readonly tokens = new TokenTimes();

  push(chunk: Uint8Array): void {
    this.events.push(chunk);
  }

  finish(): Answer {
    this.events.finish();
    return {
      text: this.parts.join(''),
      refusal: null,
      toolCalls: [],
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      malformed: !this.sawChunk,
      responseModel: this.model,
      finishReasons: this.finished,
    };
  }

  private onData(data: string): void {
    if (data === '[DONE]' || data === '') return;
    let c: Completion;
    try {
      c = JSON.parse(data) as Completion;
    } catch {
      return;
    }
    if (typeof c !== 'object' || c === null) return;
    this.sawChunk = true;
    if (this.model === null && typeof c.model === 'string') this.model = c.model;
    const choice = c.choices?.[0];
    if (typeof choice?.finish_reason === 'string') this.finished.push(choice.finish_reason);
    const text = choice?.text;
    if (typeof text === 'string' && text.length > 0) {
      this.tokens.tick();
      this.parts.push(text);
    }
    if (c.usage) {
      this.promptTokens = tokenCount(c.usage.prompt_tokens) ?? this.promptTokens;
      this.completionTokens = tokenCount(c.usage.completion_tokens) ?? this.completionTokens;
    }
  }
}

/** POST /v1/completions (the legacy text completions API). */
export const completions: EndpointAdapter<CompletionRequest> = {
  name: 'completions',
  path: '/v1/completions',
  upstreamPath: '/completions',
  parse: parseCompletionRequest,
  upstreamPayload(request: CompletionRequest, target: UpstreamTarget, purpose: 'serve' | 'shadow'): string {
    // Parameters only: a text completion has no system message to put the prompt in.
    const versioned = target.prompt
      ? applyParameters(request.body, target.prompt, COMPLETIONS_PARAMETER_FIELDS)
      : request.body;
    if (purpose === 'serve') return withModel(versioned, target.upstreamModel);
    const { body, extra } = shadowBody({ body: versioned, stream: request.stream });
    return withModel(body, target.upstreamModel, extra);
  },
  readJson: (body: Buffer): Answer => readTextCompletion(body),
  streamReader: (): StreamAnswerReader => new CompletionStreamReader(),
  pairPrompt(request: CompletionRequest, mode: CaptureMode): PairEvent['prompt'] {
    return promptOf([{ role: 'user', content: request.promptText }], mode);
  },
};
