import { createParser, type EventSourceParser } from 'eventsource-parser';

/** An id as the upstream wrote it, and the id the client is shown instead. */
export type IdRename = readonly [from: string, to: string];

/**
 * Every occurrence of each quoted id `"from"` in a JSON document replaced by its `"to"`. Bytes are
 * read as latin1 (one character per byte), so the rest of the document, UTF-8 or not, is passed on
 * unchanged.
 */
export function renameInJson(body: Buffer, renames: readonly IdRename[]): Buffer {
  const text = body.toString('latin1');
  const replaced = replaceAll(text, quoted(renames));
  return replaced === text ? body : Buffer.from(replaced, 'latin1');
}

/** How much of a stream is held back looking for its first event before it is passed on as it is. */
const MAX_HEAD_CHARS = 64 * 1024;

/**
 * Renames stored answers' ids all along a server-sent event stream, chunk by chunk: which ids, is
 * decided from the stream's first event (the Responses API's `response.created`, which names the
 * response and the response it continues), and every later occurrence of them, quoted, is
 * replaced, also where one is split across chunks. Bytes are only held back while they could still
 * be the start of an id (the head until its first event is complete, and a chunk's tail that is a
 * prefix of a quoted id), so tokens are passed on as they arrive. A stream with nothing to rename is
 * passed on untouched.
 */
export class StreamIdRenamer {
  private head: string | null = '';
  private readonly parser: EventSourceParser;
  private firstData: string | null = null;
  private renames: readonly IdRename[] = [];
  private carry = '';

  /** `renamesFor` gets the data of the first event (null when the head ended without one). */
  constructor(private readonly renamesFor: (firstEventData: string | null) => readonly IdRename[]) {
    this.parser = createParser({
      onEvent: (e) => {
        if (this.firstData === null) this.firstData = e.data;
      },
    });
  }

  /** The bytes to write now for this chunk (possibly none, possibly more than the chunk). */
  push(chunk: Buffer): Buffer {
    const text = chunk.toString('latin1');
    if (this.head === null) return this.renames.length === 0 ? chunk : this.replace(this.carry + text);
    this.head += text;
    // latin1 is one character per byte: an event's UTF-8 text may look odd to the parser here, but
    // its framing (line ends, blank lines) and the ASCII ids are what matter.
    this.parser.feed(text);
    if (this.firstData === null && this.head.length < MAX_HEAD_CHARS) return EMPTY;
    const head = this.head;
    this.head = null;
    this.renames = quoted(this.renamesFor(this.firstData));
    if (this.renames.length === 0) return Buffer.from(head, 'latin1');
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
    const replaced = replaceAll(text, this.renames);
    let keep = 0;
    for (const [from] of this.renames) keep = Math.max(keep, heldBack(replaced, from));
    this.carry = keep > 0 ? replaced.slice(replaced.length - keep) : '';
    return Buffer.from(keep > 0 ? replaced.slice(0, replaced.length - keep) : replaced, 'latin1');
  }
}

const EMPTY = Buffer.alloc(0);

/** The renames as quoted strings, leaving out those that change nothing. */
function quoted(renames: readonly IdRename[]): IdRename[] {
  return renames
    .filter(([from, to]) => from !== to && from !== '')
    .map(([from, to]) => [`"${from}"`, `"${to}"`]);
}

/**
 * Each quoted id replaced by its new name, in one pass, so that a new name containing another
 * old id (a tagged id ends in its upstream id, unquoted) is never renamed again.
 */
function replaceAll(text: string, renames: readonly IdRename[]): string {
  if (renames.length === 1) {
    const [from, to] = renames[0]!;
    return text.includes(from) ? text.replaceAll(from, to) : text;
  }
  let out = '';
  let at = 0;
  for (;;) {
    let best = -1;
    let which: IdRename | null = null;
    for (const r of renames) {
      const i = text.indexOf(r[0], at);
      if (i !== -1 && (best === -1 || i < best)) [best, which] = [i, r];
    }
    if (which === null) return at === 0 ? text : out + text.slice(at);
    out += text.slice(at, best) + which[1];
    at = best + which[0].length;
  }
}

/** The length of the longest tail of `text` that is a proper prefix of `needle` (it may continue in the next chunk). */
function heldBack(text: string, needle: string): number {
  const first = needle[0]!;
  const start = Math.max(0, text.length - needle.length + 1);
  for (let i = text.indexOf(first, start); i !== -1; i = text.indexOf(first, i + 1))
    if (needle.startsWith(text.slice(i))) return text.length - i;
  return 0;
}
