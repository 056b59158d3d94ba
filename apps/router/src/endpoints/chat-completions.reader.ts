import { type Answer, MALFORMED, type StreamAnswerReader, tokenCount } from '../answers/answer';

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

/** Incremental `text/event-stream` parser for chat.completion.chunk events. */
export class ChatStreamReader implements StreamAnswerReader {
  private buffer = '';
  private readonly parts: string[] = [];
  private promptTokens: number | null = null;
  private completionTokens: number | null = null;
  private sawChunk = false;
  private readonly decoder = new TextDecoder();

  push(chunk: Uint8Array): void {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    let sep: number;
    while ((sep = this.buffer.indexOf('\n\n')) !== -1) {
      const event = this.buffer.slice(0, sep);
      this.buffer = this.buffer.slice(sep + 2);
      this.onEvent(event);
    }
  }

  finish(): Answer {
    if (this.buffer.trim()) this.onEvent(this.buffer);
    this.buffer = '';
    return {
      text: this.parts.join(''),
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      malformed: !this.sawChunk,
    };
  }

  private onEvent(event: string): void {
    for (const line of event.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]' || data === '') continue;
      try {
        const c = JSON.parse(data) as Completion;
        this.sawChunk = true;
        const delta = c.choices?.[0]?.delta?.content;
        if (typeof delta === 'string') this.parts.push(delta);
        if (c.usage) {
          this.promptTokens = tokenCount(c.usage.prompt_tokens) ?? this.promptTokens;
          this.completionTokens = tokenCount(c.usage.completion_tokens) ?? this.completionTokens;
        }
      } catch {
        // A line we cannot read is the upstream's problem; the client still gets it verbatim.
      }
    }
  }
}
