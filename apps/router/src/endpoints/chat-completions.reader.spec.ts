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
