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
        refusal: null,
        toolCalls: [],
        promptTokens: 5,
        completionTokens: 3,
        malformed: false,
        responseModel: null,
        finishReasons: [],
      });
    }
  });

  it("keeps the answering model and the choice's finish reason, for the upstream span", () => {
    const reader = new ChatStreamReader();
    reader.push(Buffer.from(chunk('Hi', { model: 'base-8b-0613' })));
    reader.push(
      Buffer.from(
        `data: ${JSON.stringify({ model: 'base-8b-0613', choices: [{ index: 0, delta: {}, finish_reason: 'length' }] })}\n\n`,
      ),
    );
    expect(reader.finish()).toMatchObject({ responseModel: 'base-8b-0613', finishReasons: ['length'] });
  });

  it('reads CRLF-framed events as they arrive, not at the end of the stream', () => {
    const reader = new ChatStreamReader();
    reader.push(Buffer.from(chunk('Hi').replace(/\n/g, '\r\n')));
    expect(reader.tokens.first).toEqual(expect.any(Number));
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
    expect(reader.tokens.first).toBeNull();
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

  it('assembles streamed tool calls by index and reads refusal deltas', () => {
    const delta = (d: Record<string, unknown>) =>
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: d }] })}\n\n`;
    const reader = new ChatStreamReader();
    reader.push(
      Buffer.from(
        delta({ role: 'assistant', content: null }) +
          delta({
            tool_calls: [
              { index: 0, id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '' } },
            ],
          }) +
          delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }) +
          delta({
            tool_calls: [
              { index: 1, id: 'c2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
            ],
          }) +
          delta({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }) +
          delta({ refusal: 'I cannot ' }) +
          delta({ refusal: 'do that.' }),
      ),
    );
    expect(reader.tokens.first).toEqual(expect.any(Number));
    expect(reader.finish()).toMatchObject({
      text: '',
      refusal: 'I cannot do that.',
      toolCalls: [
        { name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { name: 'get_time', arguments: '{}' },
      ],
    });
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
      refusal: null,
      toolCalls: [],
      promptTokens: 2,
      completionTokens: 1,
      malformed: false,
      responseModel: null,
      finishReasons: [],
    });
  });

  it("reads the answering model and every choice's finish reason", () => {
    const body = {
      model: 'base-8b-0613',
      choices: [
        { message: { content: 'a' }, finish_reason: 'stop' },
        { message: { content: 'b' }, finish_reason: 'length' },
      ],
    };
    expect(readChatCompletion(Buffer.from(JSON.stringify(body)))).toMatchObject({
      responseModel: 'base-8b-0613',
      finishReasons: ['stop', 'length'],
    });
  });

  it('reads tool calls, the legacy function call and the refusal field', () => {
    const body = {
      choices: [
        {
          message: {
            content: null,
            refusal: 'I will not.',
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'lookup', arguments: '{"q":1}' } }],
            function_call: { name: 'old_style', arguments: '{}' },
          },
        },
      ],
    };
    expect(readChatCompletion(Buffer.from(JSON.stringify(body)))).toMatchObject({
      text: '',
      refusal: 'I will not.',
      toolCalls: [
        { name: 'lookup', arguments: '{"q":1}' },
        { name: 'old_style', arguments: '{}' },
      ],
    });
  });

  it.each(['<html>502</html>', '{"error":"x"}', '', 'null', '3'])('flags %j as malformed', (raw) => {
    expect(readChatCompletion(Buffer.from(raw)).malformed).toBe(true);
  });
});
