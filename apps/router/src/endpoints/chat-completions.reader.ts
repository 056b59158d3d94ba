import { type Answer, MALFORMED, type StreamAnswerReader, tokenCount } from '../answers/answer';
import { SseEvents } from '../answers/sse-events';

type Choice = { message?: { content?: unknown }; delta?: { content?: unknown } };
type Completion = {
  choices?: Choice[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
};

/** A `chat.completion` body: the first choice's content and the usage. */
export function readChatCompletion(raw: Buffer): Answer {
  try {
    const c = JSON.parse(raw.toString('utf8')) as Completion;
    if (!Array.isArray(c.choices)) return MALFORMED;
    const content = c.choices[0]?.message?.content;
    return {
      text: typeof content === 'string' ? content : '',
      promptTokens: tokenCount(c.usage?.prompt_tokens),
      completionTokens: tokenCount(c.usage?.completion_tokens),
      malformed: false,
    };
  } catch {
    return MALFORMED;
  }
}

/** A streamed chat completion: `chat.completion.chunk` events, then `[DONE]`. */
export class ChatStreamReader implements StreamAnswerReader {
  private readonly parts: string[] = [];
  private promptTokens: number | null = null;
  private completionTokens: number | null = null;
  private sawChunk = false;
  private readonly events: SseEvents;
  firstTokenAt: number | null = null;

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
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      malformed: !this.sawChunk,
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
    this.sawChunk = true;
    const delta = c.choices?.[0]?.delta?.content;
    if (typeof delta === 'string' && delta.length > 0) {
      this.firstTokenAt ??= performance.now();
      this.parts.push(delta);
    }
    if (c.usage) {
      this.promptTokens = tokenCount(c.usage.prompt_tokens) ?? this.promptTokens;
      this.completionTokens = tokenCount(c.usage.completion_tokens) ?? this.completionTokens;
    }
  }
}
