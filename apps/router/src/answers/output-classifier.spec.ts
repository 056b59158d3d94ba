import { RefusalDetector } from '@aviary/domain';
import type { Answer, AnswerExpectations } from './answer';
import { JsonSchemaCheck } from './json-schema-check';
import { classifyOutput, type OutputClass } from './output-classifier';

const answer = (over: Partial<Answer>): Answer => ({
  text: '',
  refusal: null,
  toolCalls: [],
  promptTokens: null,
  completionTokens: null,
  malformed: false,
  ...over,
});
const plain: AnswerExpectations = { jsonRequested: false, jsonSchema: undefined, tools: null };
const weather = new Set(['get_weather']);
const schema = {
  type: 'object',
  properties: { city: { type: 'string' }, celsius: { type: 'number' } },
  required: ['city', 'celsius'],
  additionalProperties: false,
};
const none: OutputClass = {
  refusal: false,
  empty: false,
  invalidJson: false,
  schemaInvalid: false,
  toolCalls: 0,
  toolCallErrors: 0,
};
const call = (name: string, args: string) => ({ name, arguments: args });

describe(classifyOutput.name, () => {
  const classify = (a: Partial<Answer>, e: Partial<AnswerExpectations> = {}) =>
    classifyOutput(answer(a), { ...plain, ...e }, new RefusalDetector(), new JsonSchemaCheck());

  it.each<[string, Partial<Answer>, Partial<AnswerExpectations>, Partial<OutputClass>]>([
    ['a plain answer', { text: 'Paris.' }, {}, {}],
    ['an empty answer', { text: '  ' }, {}, { empty: true }],
    ['refusal wording', { text: "I'm sorry, but I can't help with that." }, {}, { refusal: true }],
    ['the refusal field, with no content', { refusal: 'I cannot help with that.' }, {}, { refusal: true }],
    [
      'a tool call without text: an answer, not empty',
      { toolCalls: [call('get_weather', '{"city":"Oslo"}')] },
      { tools: weather },
      { toolCalls: 1 },
    ],
    [
      'a tool call with malformed arguments',
      { toolCalls: [call('get_weather', '{"city":')] },
      { tools: weather },
      { toolCalls: 1, toolCallErrors: 1 },
    ],
    [
      'a tool call with non-object arguments',
      { toolCalls: [call('get_weather', '[1]')] },
      { tools: weather },
      { toolCalls: 1, toolCallErrors: 1 },
    ],
    [
      'a call to a tool that was not offered',
      { toolCalls: [call('delete_user', '{}')] },
      { tools: weather },
      { toolCalls: 1, toolCallErrors: 1 },
    ],
    [
      'a tool call when no tools were offered',
      { toolCalls: [call('get_weather', '{}')] },
      {},
      { toolCalls: 1, toolCallErrors: 1 },
    ],
    [
      'a tool without parameters called with empty arguments',
      { toolCalls: [call('get_weather', '')] },
      { tools: weather },
      { toolCalls: 1 },
    ],
    [
      'two calls, one broken',
      { toolCalls: [call('get_weather', '{}'), call('get_weather', 'x')] },
      { tools: weather },
      { toolCalls: 2, toolCallErrors: 1 },
    ],
    ['JSON mode, valid JSON', { text: '{"a":1}' }, { jsonRequested: true }, {}],
    ['JSON mode, JSON in a fence', { text: '```json\n{"a":1}\n```' }, { jsonRequested: true }, {}],
    ['JSON mode, broken JSON', { text: '{"a":' }, { jsonRequested: true }, { invalidJson: true }],
    ['JSON mode, empty', { text: '' }, { jsonRequested: true }, { empty: true, invalidJson: true }],
    [
      'JSON mode answered by a tool call',
      { toolCalls: [call('get_weather', '{}')] },
      { jsonRequested: true, tools: weather },
      { toolCalls: 1 },
    ],
    [
      'JSON mode refused: a refusal, not broken JSON',
      { refusal: 'No.' },
      { jsonRequested: true },
      { refusal: true },
    ],
    [
      'json_schema, matching',
      { text: '{"city":"Oslo","celsius":3}' },
      { jsonRequested: true, jsonSchema: schema },
      {},
    ],
    [
      'json_schema, a required field missing',
      { text: '{"city":"Oslo"}' },
      { jsonRequested: true, jsonSchema: schema },
      { invalidJson: true, schemaInvalid: true },
    ],
    [
      'json_schema, a wrong type',
      { text: '{"city":"Oslo","celsius":"warm"}' },
      { jsonRequested: true, jsonSchema: schema },
      { invalidJson: true, schemaInvalid: true },
    ],
    [
      'json_schema, an extra field',
      { text: '{"city":"Oslo","celsius":3,"x":1}' },
      { jsonRequested: true, jsonSchema: schema },
      { invalidJson: true, schemaInvalid: true },
    ],
    [
      'json_schema that cannot be compiled: checked as JSON only',
      { text: '{"a":1}' },
      { jsonRequested: true, jsonSchema: { type: 12 } },
      {},
    ],
  ])('%s', (_name, a, e, expected) => {
    expect(classify(a, e)).toEqual({ ...none, ...expected });
  });
});

describe(JsonSchemaCheck.name, () => {
  it('compiles a schema once and reuses it for equal schemas', () => {
    const check = new JsonSchemaCheck();
    const compile = jest.spyOn((check as unknown as { ajv: { compile: () => unknown } }).ajv, 'compile');
    for (let i = 0; i < 5; i++)
      expect(check.matches(JSON.parse(JSON.stringify(schema)), { city: 'x', celsius: 1 })).toBe(true);
    expect(compile).toHaveBeenCalledTimes(1);
  });

  it('handles $defs references and ignores unknown formats', () => {
    const check = new JsonSchemaCheck();
    const s = {
      type: 'object',
      properties: { when: { type: 'string', format: 'date-time' }, n: { $ref: '#/$defs/n' } },
      required: ['n'],
      $defs: { n: { type: 'integer' } },
    };
    expect(check.matches(s, { n: 1, when: 'not a date' })).toBe(true);
    expect(check.matches(s, { n: 1.5 })).toBe(false);
  });
});
