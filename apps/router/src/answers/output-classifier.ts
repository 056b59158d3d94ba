import type { RefusalDetector } from '@aviary/domain';
import type { Answer, AnswerExpectations } from './answer';
import type { JsonSchemaCheck } from './json-schema-check';

export interface OutputClass {
  readonly refusal: boolean;
  /** No text, no tool call, no refusal. */
  readonly empty: boolean;
  /** JSON was asked for and the answer is not JSON, or does not match the requested schema. */
  readonly invalidJson: boolean;
  /** The answer is JSON but does not match the request's json_schema. */
  readonly schemaInvalid: boolean;
  readonly toolCalls: number;
  /** Tool calls whose arguments are not a JSON object, or that call a tool that was not offered. */
  readonly toolCallErrors: number;
}

/**
 * The silent failures of an LLM answer: refusals (the `refusal` field, or refusal wording), empty
 * answers, JSON that does not parse or does not match the requested schema, and broken tool calls.
 * A tool call is an answer: it is not empty, and JSON mode does not apply to it.
 */
export function classifyOutput(
  answer: Answer,
  expect: AnswerExpectations,
  refusals: RefusalDetector,
  schemas: JsonSchemaCheck,
): OutputClass {
  if (answer.vectors)
    return Object.assign({}, NOTHING, { empty: answer.vectors.some((v) => v.length === 0) });
  const trimmed = answer.text.trim();
  const refusalField = answer.refusal !== null && answer.refusal.trim().length > 0;
  const toolCalls = answer.toolCalls.length;
  const empty = trimmed.length === 0 && toolCalls === 0 && !refusalField;
  const refusal = refusalField || (trimmed.length > 0 && refusals.isRefusal(trimmed));
  let invalidJson = false;
  let schemaInvalid = false;
  if (expect.jsonRequested && !refusal && (toolCalls === 0 || trimmed.length > 0)) {
    const parsed = parseJson(stripFence(trimmed));
    if (parsed === NOT_JSON) invalidJson = true;
    else if (expect.jsonSchema !== undefined) {
      schemaInvalid = schemas.matches(expect.jsonSchema, parsed) === false;
      invalidJson = schemaInvalid;
    }
  }
  let toolCallErrors = 0;
  for (const call of answer.toolCalls)
    if (!(expect.tools?.has(call.name) ?? false) || !isJsonObject(call.arguments)) toolCallErrors++;
  return { refusal, empty, invalidJson, schemaInvalid, toolCalls, toolCallErrors };
}

const NOT_JSON = Symbol('not JSON');
const NOTHING: OutputClass = {
  refusal: false,
  empty: false,
  invalidJson: false,
  schemaInvalid: false,
  toolCalls: 0,
  toolCallErrors: 0,
};

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** Tool arguments are a JSON object (an empty string is the same as `{}` for tools without parameters). */
function isJsonObject(args: string): boolean {
  if (args.trim() === '') return true;
  const v = parseJson(args);
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Models often wrap JSON in a ```json fence; the payload is still usable. */
function stripFence(s: string): string {
  const m = /^```(?:json)?\s*([\s\S]*?)\s*```$/i.exec(s);
  return m?.[1] ?? s;
}
