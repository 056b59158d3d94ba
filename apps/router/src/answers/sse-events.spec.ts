import type { EventSourceMessage } from 'eventsource-parser';
import { SseEvents } from './sse-events';

function read(body: string | Buffer, chunkSize = body.length, maxEventChars?: number) {
  const events: EventSourceMessage[] = [];
  const sse = new SseEvents((e) => events.push(e), maxEventChars);
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  for (let i = 0; i < bytes.length; i += chunkSize) sse.push(bytes.subarray(i, i + chunkSize));
  sse.finish();
  return { events, sse };
}

describe(SseEvents.name, () => {
  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('frames events on %s line endings, whatever the chunk boundaries', (_name, eol) => {
    const body = `data: one${eol}${eol}event: delta${eol}data: two${eol}${eol}data: [DONE]${eol}${eol}`;
    for (const size of [1, 2, 3, 5, body.length])
      expect(read(body, size).events).toEqual([
        { data: 'one', event: undefined, id: undefined },
        { data: 'two', event: 'delta', id: undefined },
        { data: '[DONE]', event: undefined, id: undefined },
      ]);
  });

  it('joins a multi-line data field with newlines', () => {
    expect(read('data: {"a":\ndata: 1}\n\n').events.map((e) => e.data)).toEqual(['{"a":\n1}']);
  });

  it('ignores comments, ids, retry and unknown fields', () => {
    const body = ': keep-alive\n\nid: 7\nretry: 100\nfoo: bar\ndata: x\n\n:\n\n';
    expect(read(body, 4).events.map((e) => e.data)).toEqual(['x']);
  });

  it('drops an event the stream cut off before its blank line', () => {
    expect(read('data: complete\n\ndata: {"half":', 3).events.map((e) => e.data)).toEqual(['complete']);
  });

  it('keeps a multi-byte character split across chunks', () => {
    expect(read(Buffer.from('data: wörld 🙂\n\n'), 1).events.map((e) => e.data)).toEqual(['wörld 🙂']);
  });

  it('stops reading at an event larger than the bound instead of buffering the stream', () => {
    const { events, sse } = read(`data: ok\n\ndata: ${'x'.repeat(5000)}\n\ndata: after\n\n`, 100, 1000);
    expect(events.map((e) => e.data)).toEqual(['ok']);
    expect(sse.overflowed).toBe(true);
  });
});
