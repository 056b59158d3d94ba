import { RequestError } from './endpoint';
import { parseResponsesRequest, readResponse, responses, ResponsesStreamReader } from './responses';

const raw = (body: unknown) => Buffer.from(JSON.stringify(body));
const ev = (type: string, fields: Record<string, unknown>, eol = '\n') =>
  `event: ${type}${eol}data: ${JSON.stringify({ type, ...fields })}${eol}${eol}`;
const completed = (output: unknown[], usage = { input_tokens: 9, output_tokens: 4 }) => ({
  id: 'resp_1',
  object: 'response',
  status: 'completed',
  output,
  usage,
});
const message = (text: string) => ({
  type: 'message',
  role: 'assistant',
  content: [{ type: 'output_text', text }],
});

describe(parseResponsesRequest.name, () => {
  it('reads input, instructions, the text format and the tools', () => {
    const r = parseResponsesRequest(
      raw({
        model: 'm',
        instructions: 'Be brief.',
        input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi there' }] }],
        text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object' } } },
        tools: [{ type: 'function', name: 'get_weather', parameters: {} }, { type: 'web_search' }],
        safety_identifier: 'user-7',
        stream: true,
      }),
    );
    expect(r).toMatchObject({
      model: 'm',
      stream: true,
      user: 'user-7',
      jsonRequested: true,
      jsonSchema: { type: 'object' },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi there' },
      ],
      promptChars: 17,
    });
    expect([...(r.tools ?? [])]).toEqual(['get_weather']);
  });

  it.each([
    [{ input: 'x' }, 'model'],
    [{ model: 'm', input: 3 }, 'input'],
    [{ model: 'm', input: ['x'] }, 'input[0]'],
    [{ model: 'm', input: 'x', instructions: 1 }, 'instructions'],
    [{ model: 'm', input: 'x', text: 'json' }, 'text'],
    [{ model: 'm', input: 'x', stream: 'yes' }, 'stream'],
  ])('rejects %j naming %s', (body, param) => {
    expect(() => parseResponsesRequest(raw(body))).toThrow(RequestError);
    try {
      parseResponsesRequest(raw(body));
    } catch (err) {
      expect((err as RequestError).param).toBe(param);
    }
  });

  it('does not shadow a request that continues a stored response', () => {
    expect(responses.shadowable?.(parseResponsesRequest(raw({ model: 'm', input: 'x' })))).toBe(true);
    expect(
      responses.shadowable?.(
        parseResponsesRequest(raw({ model: 'm', input: 'x', previous_response_id: 'resp_1' })),
      ),
    ).toBe(false);
  });
});

describe(readResponse.name, () => {
  it('reads text, refusal parts, function calls and usage', () => {
    const body = completed([
      message('Hello'),
      { type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] },
      { type: 'function_call', call_id: 'c', name: 'get_weather', arguments: '{"city":"Oslo"}' },
    ]);
    expect(readResponse(raw(body))).toEqual({
      text: 'Hello',
      refusal: 'No.',
      toolCalls: [{ name: 'get_weather', arguments: '{"city":"Oslo"}' }],
      promptTokens: 9,
      completionTokens: 4,
      malformed: false,
      responseModel: null,
    });
    expect(readResponse(raw({ ...body, model: 'gpt-x-2026' })).responseModel).toBe('gpt-x-2026');
  });

  it.each([{ object: 'chat.completion' }, { ...completed([]), status: 'failed' }, 'x'])(
    'does not take %j for an answer',
    (body) => {
      expect(readResponse(raw(body)).malformed).toBe(true);
    },
  );
});

describe(ResponsesStreamReader.name, () => {
  it.each(['\n', '\r\n'])('reads deltas as they come and the completed response at the end (%j)', (eol) => {
    const reader = new ResponsesStreamReader();
    reader.push(Buffer.from(ev('response.created', { response: { status: 'in_progress' } }, eol)));
    expect(reader.tokens.first).toBeNull();
    reader.push(Buffer.from(ev('response.output_text.delta', { delta: 'Hel' }, eol)));
    expect(reader.tokens.first).toEqual(expect.any(Number));
    reader.push(
      Buffer.from(
        ev('response.output_text.delta', { delta: 'lo' }, eol) +
          ev('response.completed', { response: completed([message('Hello')]) }, eol),
      ),
    );
    expect(reader.finish()).toMatchObject({
      text: 'Hello',
      promptTokens: 9,
      completionTokens: 4,
      malformed: false,
    });
  });

  it('takes tool calls from the completed response', () => {
    const reader = new ResponsesStreamReader();
    reader.push(
      Buffer.from(
        ev('response.function_call_arguments.delta', { delta: '{"ci' }) +
          ev('response.completed', {
            response: completed([{ type: 'function_call', name: 'get_weather', arguments: '{"city":"x"}' }]),
          }),
      ),
    );
    expect(reader.tokens.first).toEqual(expect.any(Number));
    expect(reader.finish().toolCalls).toEqual([{ name: 'get_weather', arguments: '{"city":"x"}' }]);
  });

  it('keeps the text of a stream cut before it completed, and fails a failed one', () => {
    const cut = new ResponsesStreamReader();
    cut.push(
      Buffer.from(ev('response.output_text.delta', { delta: 'partial' }) + 'event: response.output_te'),
    );
    expect(cut.finish()).toMatchObject({ text: 'partial', malformed: false });
    const failed = new ResponsesStreamReader();
    failed.push(Buffer.from(ev('response.failed', { response: { status: 'failed' } })));
    expect(failed.finish().malformed).toBe(true);
  });
});
