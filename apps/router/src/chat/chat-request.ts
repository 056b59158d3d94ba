/** The part of an OpenAI chat-completions request the router reads; everything else passes through. */
export interface ChatRequest {
  readonly body: Record<string, unknown>;
  readonly model: string;
  readonly stream: boolean;
  readonly user: string | null;
  /** response_format json_object / json_schema: the answer must parse as JSON. */
  readonly jsonRequested: boolean;
  readonly messages: ReadonlyArray<{ role: string; content: unknown }>;
}

export class ChatRequestError extends Error {
  constructor(
    message: string,
    readonly param: string | null,
  ) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Hand-written on purpose: this runs on every request and must stay cheap. */
export function parseChatRequest(raw: Buffer): ChatRequest {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ChatRequestError('We could not parse the JSON body of your request.', null);
  }
  if (!isObject(body)) throw new ChatRequestError('The request body must be a JSON object.', null);
  const { model, messages, stream, user, response_format: format } = body;
  if (typeof model !== 'string' || model.length === 0)
    throw new ChatRequestError("'model' must be a non-empty string.", 'model');
  if (!Array.isArray(messages) || messages.length === 0)
    throw new ChatRequestError("'messages' must be a non-empty array.", 'messages');
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isObject(m) || typeof m['role'] !== 'string')
      throw new ChatRequestError(`'messages[${i}].role' must be a string.`, `messages[${i}].role`);
    const c = m['content'];
    if (c !== null && c !== undefined && typeof c !== 'string' && !Array.isArray(c)) {
      throw new ChatRequestError(
        `'messages[${i}].content' must be a string or an array of parts.`,
        `messages[${i}].content`,
      );
    }
  }
  if (stream !== undefined && typeof stream !== 'boolean')
    throw new ChatRequestError("'stream' must be a boolean.", 'stream');
  if (user !== undefined && typeof user !== 'string')
    throw new ChatRequestError("'user' must be a string.", 'user');
  if (format !== undefined && !isObject(format))
    throw new ChatRequestError("'response_format' must be an object.", 'response_format');
  const formatType = format?.['type'];
  return {
    body,
    model,
    stream: stream === true,
    user: typeof user === 'string' && user.length > 0 ? user : null,
    jsonRequested: formatType === 'json_object' || formatType === 'json_schema',
    messages: messages as ChatRequest['messages'],
  };
}

/** Text of a message's content (string, or the text parts of an array). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p: unknown) => (isObject(p) && typeof p['text'] === 'string' ? p['text'] : ''))
      .join('');
  }
  return '';
}
