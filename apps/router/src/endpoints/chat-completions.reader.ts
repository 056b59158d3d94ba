import {
  type Answer,
  MALFORMED,
  type StreamAnswerReader,
  TokenTimes,
  type ToolCall,
  tokenCount,
} from '../answers/answer';
import { SseEvents } from '../answers/sse-events';

type FunctionPart = { name?: unknown; arguments?: unknown };
type ToolCallPart = {
  index?: unknown;
  function?: FunctionPart;
  custom?: { name?: unknown; input?: unknown };
};
type Message = {
  content?: unknown;
  refusal?: unknown;
  tool_calls?: unknown;
  function_call?: FunctionPart | null;
};
type Choice = { message?: Message; delta?: Message; finish_reason?: unknown };
type Completion = {
  model?: unknown;
  choices?: Choice[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
};

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Each choice's `finish_reason` that is set. */
function finishReasons(choices: Choice[]): string[] {
  const reasons: string[] = [];
  for (const c of choices) if (typeof c?.finish_reason === 'string') reasons.push(c.finish_reason);
  return reasons;
}

/** A tool call part as sent: function tools carry `arguments`, custom tools a free-form `input`. */
function toolCallOf(part: ToolCallPart): ToolCall {
  if (part.custom) return { name: str(part.custom.name), arguments: '{}' };
  return { name: str(part.function?.name), arguments: str(part.function?.arguments) };
}

/** A `chat.completion` body: the first choice's content, refusal and tool calls, and the usage. */
export function readChatCompletion(raw: Buffer): Answer {
  let c: Completion;
  try {
    c = JSON.parse(raw.toString('utf8')) as Completion;
  } catch {
    return MALFORMED;
  }
  if (typeof c !== 'object' || c === null || !Array.isArray(c.choices)) return MALFORMED;
  const m = c.choices[0]?.message;
  const calls = Array.isArray(m?.tool_calls) ? (m.tool_calls as ToolCallPart[]) : [];
  const toolCalls = calls.filter((t) => typeof t === 'object' && t !== null).map(toolCallOf);
  if (m?.function_call) toolCalls.push(toolCallOf({ function: m.function_call }));
  return {
    text: str(m?.content),
    refusal: typeof m?.refusal === 'string' ? m.refusal : null,
    toolCalls,
    promptTokens: tokenCount(c.usage?.prompt_tokens),
    completionTokens: tokenCount(c.usage?.completion_tokens),
    malformed: false,
    responseModel: typeof c.model === 'string' ? c.model : null,
    finishReasons: finishReasons(c.choices),
  };
}

/** A streamed chat completion: `chat.completion.chunk` events, then `[DONE]`. */
export class ChatStreamReader implements StreamAnswerReader {
  private readonly parts: string[] = [];
  private refusal: string | null = null;
  /** Tool calls by their index in the stream: the name comes once, the arguments in pieces. */
  private readonly calls = new Map<number, { name: string; arguments: string }>();
  private promptTokens: number | null = null;
  private completionTokens: number | null = null;
  private sawChunk = false;
  private model: string | null = null;
  private readonly finished: string[] = [];
  private readonly events: SseEvents;
  readonly tokens = new TokenTimes();

  constructor(maxEventChars?: number) {
    this.events = new SseEvents(({ data }) => this.onData(data), maxEventChars);
  }

  push(chunk: Uint8Array): void {
    this.events.push(chunk);
  }

  finish(): Answer {
    this.events.finish();
    return {
      text: this.parts.join(''),
      refusal: this.refusal,
      toolCalls: [...this.calls.values()],
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
      return; // an event we cannot read is the upstream's problem; the client still gets it verbatim
    }
    if (typeof c !== 'object' || c === null) return;
    this.sawChunk = true;
    if (this.model === null && typeof c.model === 'string') this.model = c.model;
    const choice = c.choices?.[0];
    const delta = choice?.delta;
    if (delta) this.onDelta(delta);
    if (typeof choice?.finish_reason === 'string') this.finished.push(choice.finish_reason);
    if (c.usage) {
      this.promptTokens = tokenCount(c.usage.prompt_tokens) ?? this.promptTokens;
      this.completionTokens = tokenCount(c.usage.completion_tokens) ?? this.completionTokens;
    }
  }

  private onDelta(delta: Message): void {
    const content = delta.content;
    if (typeof content === 'string' && content.length > 0) {
      this.tokens.tick();
      this.parts.push(content);
    }
    if (typeof delta.refusal === 'string' && delta.refusal.length > 0) {
      this.tokens.tick();
      this.refusal = (this.refusal ?? '') + delta.refusal;
    }
    const parts = Array.isArray(delta.tool_calls) ? (delta.tool_calls as ToolCallPart[]) : [];
    if (delta.function_call) parts.push({ index: 0, function: delta.function_call });
    for (const part of parts) {
      if (typeof part !== 'object' || part === null) continue;
      this.tokens.tick();
      const index = typeof part.index === 'number' ? part.index : this.calls.size;
      const call = this.calls.get(index) ?? { name: '', arguments: '' };
      const piece = toolCallOf(part);
      call.name ||= piece.name;
      call.arguments += part.custom ? '' : piece.arguments;
      if (part.custom && !call.arguments) call.arguments = '{}';
      this.calls.set(index, call);
    }
  }
}
