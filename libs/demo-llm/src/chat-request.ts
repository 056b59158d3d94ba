/** The parts of a chat completion request the demo server looks at. */
export interface ChatRequest {
  /** As sent; the response echoes it. Null when absent (the server's name is used). */
  readonly model: string | null;
  /** Text of the last user message (or of the last message, when no message has role user). */
  readonly prompt: string;
  /** Characters across every message, for usage.prompt_tokens. */
  readonly promptChars: number;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** response_format json_object or json_schema. */
  readonly jsonRequested: boolean;
  /** response_format.json_schema.schema, when given. */
  readonly schema: unknown;
  /** max_completion_tokens ?? max_tokens, when a positive integer. */
  readonly maxTokens: number | null;
}

export interface RequestProblem {
  readonly message: string;
  readonly param: string | null;
  readonly code: string | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Message content: a string, or an array of parts of which the text parts count. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (isRecord(part) && typeof part['text'] === 'string') text += (text === '' ? '' : '\n') + part['text'];
  }
  return text;
}

function positiveInt(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null;
}

/** Minimal validation, OpenAI wording: the body must be an object with a non-empty messages array. */
export function parseChatRequest(body: unknown): ChatRequest | RequestProblem {
  if (!isRecord(body)) {
    return {
      message: 'Invalid type for request body: expected an object.',
      param: null,
      code: 'invalid_type',
    };
  }
  const messages = body['messages'];
  if (messages === undefined || messages === null) {
    return {
      message: "Missing required parameter: 'messages'.",
      param: 'messages',
      code: 'missing_required_parameter',
    };
  }
  if (!Array.isArray(messages)) {
    return {
      message: "Invalid type for 'messages': expected an array of objects.",
      param: 'messages',
      code: 'invalid_type',
    };
  }
  if (messages.length === 0) {
    return {
      message:
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      param: 'messages',
      code: 'empty_array',
    };
  }
  const model = body['model'];
  if (model !== undefined && typeof model !== 'string') {
    return { message: "Invalid type for 'model': expected a string.", param: 'model', code: 'invalid_type' };
  }

  let promptChars = 0;
  let prompt: string | null = null;
  let last = '';
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    if (!isRecord(message)) {
      return {
        message: `Invalid type for 'messages[${i}]': expected an object.`,
        param: `messages[${i}]`,
        code: 'invalid_type',
      };
    }
    const text = contentText(message['content']);
    promptChars += text.length;
    last = text;
    if (message['role'] === 'user') prompt = text;
  }

  const format = body['response_format'];
  const formatType = isRecord(format) ? format['type'] : undefined;
  const jsonSchema = isRecord(format) ? format['json_schema'] : undefined;
  const streamOptions = body['stream_options'];
  const stream = body['stream'] === true;
  return {
    model: model ?? null,
    prompt: prompt ?? last,
    promptChars,
    stream,
    includeUsage: stream && isRecord(streamOptions) && streamOptions['include_usage'] === true,
    jsonRequested: formatType === 'json_object' || formatType === 'json_schema',
    schema: isRecord(jsonSchema) ? jsonSchema['schema'] : undefined,
    maxTokens: positiveInt(body['max_completion_tokens']) ?? positiveInt(body['max_tokens']),
  };
}

export function isRequestProblem(parsed: ChatRequest | RequestProblem): parsed is RequestProblem {
  return 'message' in parsed;
}
