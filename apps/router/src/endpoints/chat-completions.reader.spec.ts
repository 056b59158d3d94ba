import { ChatStreamReader, readChatCompletion } from './chat-completions.reader';

const chunk = (content: string | null, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: content === null ? [] : [{ index: 0, delta: { content } }], ...extra })}\n\n`;

describe(ChatStreamReader.name, () => {
  it('reassembles content and usage from chunks split at arbitrary byte boundaries', () => {
    const body = Buffer.from(
      chunk('Hel') +
        chunk('lo, wörld') +
        chunk(null, { usage: { prompt_tokens: 5, completion_tokens: 3 } }) +
        'data: [DONE]\n\n',
    );
    for (const size of [1, 3, 7, 64, body.length]) {
      const reader = new ChatStreamReader();
      for (let i = 0; i < body.length; i += size) reader.push(body.subarray(i, i + size));
      expect(reader.finish()).toEqual({
        text: 'Hello, wörld',
        promptTokens: 5,
        completionTokens: 3,
        malformed: false,
      });
    }
  });

  it('reads CRLF-framed events as they arrive, not at the end of the stream', () => {
    const reader = new ChatStreamReader();
    reader.push(Buffer.from(chunk('Hi').replace(/\n/g, '\r\n')));
    expect(reader.firstTokenAt).toEqual(expect.any(Number));
    reader.push(Buffer.from(chunk(' there').replace(/\n/g, '\r\n') + 'data: [DONE]\r\n\r\n'));
    expect(reader.finish().text).toBe('Hi there');
  });

  it('reads a chunk whose JSON is spread over several data lines', () => {
    const reader = new ChatStreamReader();
    reader.push(Buffer.from('data: {"choices":[{"index":0,\ndata: "delta":{"content":"multi"}}]}\n\n'));
    expect(reader.finish()).toMatchObject({ text: 'multi', malformed: false });
  });

  it('keeps what arrived before a stream was cut mid-event', () => {
    const reader = new ChatStreamReader();
    reader.push(Buffer.from(chunk('Hel') + chunk('lo').slice(0, 25)));
    expect(reader.finish()).toMatchObject({ text: 'Hel', malformed: false });
  });

  it('has no first token before content arrives', () => {
    const reader = new ChatStreamReader();
    reader.push(Buffer.from(chunk('') + ': comment\n\n'));
    expect(reader.firstTokenAt).toBeNull();
  });

  it('reads a stream without blank lines in about the time of a normal one (bounded buffer)', () => {
    const size = 8 * 1024 * 1024;
    const one = chunk('word ');
    const normal = Buffer.from(one.repeat(Math.ceil(size / one.length)));
    // data lines without the blank lines that end events: one ever-growing event
    const noBlankLines = Buffer.from(one.replace('\n\n', '\n').repeat(Math.ceil(size / one.length)));
    const time = (body: Buffer) => {
      const t = performance.now();
      const reader = new ChatStreamReader();
      for (let i = 0; i < body.length; i += 16 * 1024) reader.push(body.subarray(i, i + 16 * 1024));
      reader.finish();
      return performance.now() - t;
    };
    time(normal); // warm-up
    expect(time(noBlankLines)).toBeLessThan(time(normal) * 2 + 20);
  });

  it('flags a stream with no chat chunks as malformed', () => {
    const reader = new ChatStreamReader();
    reader.push(Buffer.from('data: not json\n\n'));
    expect(reader.finish().malformed).toBe(true);
  });
});

describe(readChatCompletion.name, () => {
  it('reads the message and usage', () => {
    const body = Buffer.from(
      JSON.stringify({
        choices: [{ message: { content: 'hi' } }],
        usage: { prompt_tokens: 2, completion_tokens: 1 },
      }),
    );
    expect(readChatCompletion(body)).toEqual({
      text: 'hi',
      promptTokens: 2,
      completionTokens: 1,
      malformed: false,
    });
  });

  it.each(['<html>502</html>', '{"error":"x"}', ''])('flags %j as malformed', (raw) => {
    expect(readChatCompletion(Buffer.from(raw)).malformed).toBe(true);
  });
});
