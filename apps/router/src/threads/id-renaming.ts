import { createParser, type EventSourceParser } from 'eventsource-parser';

/**
 * Every occurrence of the quoted id `"from"` in a JSON document replaced by `"to"`. Bytes are read as
 * latin1 (one character per byte), so the rest of the document, UTF-8 or not, is passed on unchanged.
 */
export function renameInJson(body: Buffer, from: string, to: string): Buffer {
  const text = body.toString('latin1');
  const quoted = `"${from}"`;
  if (!text.includes(quoted)) return body;
  return Buffer.from(text.replaceAll(quoted, `"${to}"`), 'latin1');
}

/** How much of a stream is held back looking for its first event before it is passed on as it is. */
const MAX_HEAD_CHARS = 64 * 1024;

/**
 * Renames a stored answer's id all along a server-sent event stream, chunk by chunk: the id is
 * learnt from the stream's first event (the Responses API's `response.created`), and every later
 * occurrence of it, quoted, is replaced, also where it is split across chunks. Bytes are only held
 * back while they could still be the start of the id (the head until its first event is complete,
 * and a chunk's tail that is a prefix of the quoted id), so tokens are passed on as they arrive. A
 * stream whose first event names no id is passed on untouched.
 */
export class StreamIdRenamer {
  private head: string | null = '';
  private readonly parser: EventSourceParser;
  private firstData: string | null = null;
  private from: string | null = null;
  private to = '';
  private carry = '';

  constructor(
    private readonly idOfFirstEvent: (data: string) => string | null,
    private readonly rename: (id: string) => string,
  ) {
    this.parser = createParser({
      onEvent: (e) => {
        if (this.firstData === null) this.firstData = e.data;
      },
    });
  }

  /** The bytes to write now for this chunk (possibly none, possibly more than the chunk). */
  push(chunk: Buffer): Buffer {
    const text = chunk.toString('latin1');
    if (this.head === null) return this.from === null ? chunk : this.replace(this.carry + text);
    this.head += text;
    // latin1 is one character per byte: an event's UTF-8 text may look odd to the parser here, but
    // its framing (line ends, blank lines) and the ASCII id are what matter.
    this.parser.feed(text);
    if (this.firstData === null && this.head.length < MAX_HEAD_CHARS) return EMPTY;
    const head = this.head;
    this.head = null;
    const id = this.firstData === null ? null : this.idOfFirstEvent(this.firstData);
    if (id === null) return Buffer.from(head, 'latin1');
    this.from = `"${id}"`;
    this.to = `"${this.rename(id)}"`;
    return this.replace(head);
  }

  /** What is still held back, at the end of the stream. */
  end(): Buffer {
    const rest = this.head ?? this.carry;
    this.head = null;
    this.carry = '';
    return rest ? Buffer.from(rest, 'latin1') : EMPTY;
  }

  private replace(text: string): Buffer {
    const from = this.from!;
    const replaced = text.includes(from) ? text.replaceAll(from, this.to) : text;
    const keep = heldBack(replaced, from);
    this.carry = keep > 0 ? replaced.slice(replaced.length - keep) : '';
    return Buffer.from(keep > 0 ? replaced.slice(0, replaced.length - keep) : replaced, 'latin1');
  }
}

const EMPTY = Buffer.alloc(0);

/** The length of the longest tail of `text` that is a proper prefix of `needle` (it may continue in the next chunk). */
function heldBack(text: string, needle: string): number {
  const first = needle[0]!;
  const start = Math.max(0, text.length - needle.length + 1);
  for (let i = text.indexOf(first, start); i !== -1; i = text.indexOf(first, i + 1))
    if (needle.startsWith(text.slice(i))) return text.length - i;
  return 0;
}
