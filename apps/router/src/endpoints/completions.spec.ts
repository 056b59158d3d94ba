import { CompletionStreamReader, parseCompletionRequest, readTextCompletion } from './completions';
import { RequestError } from './endpoint';

const raw = (body: unknown) => Buffer.from(JSON.stringify(body));

describe(parseCompletionRequest.name, () => {
  it.each([
    ['a string', 'Once upon', 'Once upon'],
    ['strings', ['a', 'b'], 'a\nb'],
    ['token ids', [1, 2, 3], '[3 tokens]'],
    ['token id prompts', [[1], [2, 3]], '[2 token prompts]'],
  ])('takes %s as the prompt', (_name, prompt, text) => {
    expect(parseCompletionRequest(raw({ model: 'm', prompt })).promptText).toBe(text);
  });

  it.each([
    { model: 'm' },
    { model: 'm', prompt: 3 },
    { model: 'm', prompt: [] },
    { model: 'm', prompt: [{}] },
  ])('rejects %j naming the prompt', (body) => {
    expect(() => parseCompletionRequest(raw(body))).toThrow(RequestError);
  });
});

describe(readTextCompletion.name, () => {
  it('reads the text and the usage', () => {
    const body = {
      object: 'text_completion',
      choices: [{ text: 'Hi' }],
      usage: { prompt_tokens: 2, completion_tokens: 1 },
    };
    expect(readTextCompletion(raw(body))).toMatchObject({
      text: 'Hi',
      promptTokens: 2,
      completionTokens: 1,
      malformed: false,
    });
  });

  it('reads the answering model and the finish reasons, for the upstream span', () => {
    const body = { model: 'base-8b', choices: [{ text: 'Hi', finish_reason: 'length' }] };
    expect(readTextCompletion(raw(body))).toMatchObject({
      responseModel: 'base-8b',
      finishReasons: ['length'],
    });
  });
});

describe(CompletionStreamReader.name, () => {
  it('joins the text of the chunks', () => {
    const chunk = (text: string) =>
      `data: ${JSON.stringify({ object: 'text_completion', choices: [{ text }] })}\r\n\r\n`;
    const reader = new CompletionStreamReader();
    reader.push(Buffer.from(chunk('Once') + chunk(' upon') + 'data: [DONE]\r\n\r\n'));
    expect(reader.finish()).toMatchObject({ text: 'Once upon', malformed: false });
  });

  it('keeps the answering model and the finish reason of the last chunk', () => {
    const reader = new CompletionStreamReader();
    const last = { model: 'base-8b', choices: [{ text: '.', finish_reason: 'stop' }] };
    reader.push(Buffer.from(`data: ${JSON.stringify(last)}\n\ndata: [DONE]\n\n`));
    expect(reader.finish()).toMatchObject({ responseModel: 'base-8b', finishReasons: ['stop'] });
  });
});
