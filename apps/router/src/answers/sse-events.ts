import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';

/** Bytes (characters) one SSE event may take before the reader stops reading the stream. */
export const DEFAULT_MAX_EVENT_CHARS = 1024 * 1024;

/**
 * Server-sent events from a byte stream, per the spec (eventsource-parser): LF, CRLF or CR line
 * endings, multi-line `data:` fields joined with "\n", comments and unknown fields ignored, an event
 * cut off by the end of the stream dropped. An event larger than `maxEventChars` (a stream without
 * blank lines, say) stops the reading: what is buffered is bounded, and the rest of the stream is
 * passed on to the client untouched but not read.
 */
export class SseEvents {
  private readonly parser: EventSourceParser;
  private readonly decoder = new TextDecoder();
  private stopped = false;
  /** The stream had an event larger than the bound; reading stopped there. */
  overflowed = false;

  constructor(onEvent: (event: EventSourceMessage) => void, maxEventChars = DEFAULT_MAX_EVENT_CHARS) {
    this.parser = createParser({
      onEvent,
      maxBufferSize: maxEventChars,
      onError: (err) => {
        if (err.type === 'max-buffer-size-exceeded') {
          this.overflowed = true;
          this.stopped = true;
        }
      },
    });
  }

  push(chunk: Uint8Array): void {
    if (this.stopped) return;
    this.parser.feed(this.decoder.decode(chunk, { stream: true }));
  }

  /** The end of the stream: a last event without its blank line is not an event. */
  finish(): void {
    if (this.stopped) return;
    this.stopped = true;
    const tail = this.decoder.decode();
    if (tail) this.parser.feed(tail);
  }
}
