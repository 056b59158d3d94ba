import type { PairEvent } from '@aviary/contracts';
import { applyResponsesPrompt, type UpstreamTarget } from '@aviary/domain';
import {
  type Answer,
  MALFORMED,
  type StreamAnswerReader,
  TokenTimes,
  type ToolCall,
  tokenCount,
} from '../answers/answer';
import { SseEvents } from '../answers/sse-events';
import { RESPONSE_PREFIX } from '../threads/thread-tags';
import { type CaptureMode, type EndpointAdapter, type ProxiedRequest, RequestError } from './endpoint';
import {
  commonFields,
  contentText,
  formatSchema,
  isObject,
  offeredTools,
  optionalObject,
  parseJsonObject,
  promptOf,
  withModel,
} from './request-fields';

/** A Responses API request: `input` (a string or items) and `instructions` instead of messages. */
export interface ResponsesRequest extends ProxiedRequest {
  readonly messages: ReadonlyArray<{ role: string; content: string }>;
}

/** The conversation an input describes, as role + text (function outputs and other items as such). */
function inputMessages(input: unknown, instructions: unknown): Array<{ role: string; content: string }> {
  const out: Array<{ role: string; content: string }> = [];
  if (typeof instructions === 'string' && instructions) out.push({ role: 'system', content: instructions });
  if (typeof input === 'string') out.push({ role: 'user', content: input });
  else if (Array.isArray(input))
    for (const item of input as unknown[]) {
      if (!isObject(item)) continue;
      if (typeof item['role'] === 'string')
        out.push({ role: item['role'], content: contentText(item['content']) });
      else if (item['type'] === 'function_call_output')
        out.push({ role: 'tool', content: typeof item['output'] === 'string' ? item['output'] : '' });
    }
  return out;
}

export function parseResponsesRequest(raw: Buffer): ResponsesRequest {
  const body = parseJsonObject(raw);
  const common = commonFields(body);
  const input = body['input'];
  if (input !== undefined && input !== null && typeof input !== 'string' && !Array.isArray(input))
    throw new RequestError("'input' must be a string or an array of input items.", 'input');
  if (Array.isArray(input)) {
    const bad = (input as unknown[]).findIndex((i) => !isObject(i));
    if (bad !== -1) throw new RequestError(`'input[${bad}]' must be an object.`, `input[${bad}]`);
  }
  const instructions = body['instructions'];
  if (instructions !== undefined && instructions !== null && typeof instructions !== 'string')
    throw new RequestError("'instructions' must be a string.", 'instructions');
  const previous = body['previous_response_id'];
  if (previous !== undefined && previous !== null && (typeof previous !== 'string' || previous === ''))
    throw new RequestError("'previous_response_id' must be a non-empty string.", 'previous_response_id');
  const conversation = body['conversation'];
  if (conversation !== undefined && conversation !== null && conversationId(conversation) === null)
    throw new RequestError(
      "'conversation' must be a conversation id or an object with a string 'id'.",
      'conversation',
    );
  const text = optionalObject(body, 'text');
  const format = text?.['format'];
  if (format !== undefined && format !== null && !isObject(format))
    throw new RequestError("'text.format' must be an object.", 'text.format');
  const formatType = isObject(format) ? format['type'] : undefined;
  const messages = inputMessages(input, instructions);
  let promptChars = 0;
  for (const m of messages) promptChars += m.content.length;
  return {
    body,
    model: common.model,
    stream: common.stream,
    // The Responses API has no `user` any more in new clients: `safety_identifier` takes its place.
    user:
      common.user ??
      (typeof body['safety_identifier'] === 'string' ? body['safety_identifier'] || null : null),
    jsonRequested: formatType === 'json_object' || formatType === 'json_schema',
    jsonSchema: isObject(format) ? formatSchema(format) : undefined,
    tools: offeredTools(body['tools']),
    promptChars,
    messages,
  };
}

/** The id of a `conversation` parameter (a string, or `{ id }`); null when it is neither. */
function conversationId(value: unknown): string | null {
  const id = isObject(value) ? value['id'] : value;
  return typeof id === 'string' && id !== '' && id.length <= 512 ? id : null;
}

/** A response's id at the start of its JSON (where the Responses API puts it), else anywhere at the top. */
const LEADING_ID = /^\s*\{\s*"id"\s*:\s*"([^"\\]{1,512})"/;

function responseIdOfJson(body: Buffer): string | null {
  const lead = LEADING_ID.exec(body.subarray(0, 600).toString('latin1'));
  if (lead) return lead[1]!;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return isObject(parsed) && typeof parsed['id'] === 'string' ? parsed['id'] : null;
  } catch {
    return null;
  }
}

/** The stored objects a response names besides itself: the response it continues, its conversation. */
export interface ResponseLinks {
  readonly previous: string | null;
  readonly conversation: string | null;
}

const NO_LINKS: ResponseLinks = { previous: null, conversation: null };

/** The links of a response object as JSON (a response read back). */
export function responseLinksOfJson(body: Buffer): ResponseLinks {
  try {
    return linksOf(JSON.parse(body.toString('utf8')));
  } catch {
    return NO_LINKS;
  }
}

/** The links of the response in a stream event's data (`response.created` …). */
export function responseLinksOfEvent(data: string | null): ResponseLinks {
  if (data === null) return NO_LINKS;
  try {
    const e = JSON.parse(data) as unknown;
    return linksOf(isObject(e) ? e['response'] : null);
  } catch {
    return NO_LINKS;
  }
}

function linksOf(response: unknown): ResponseLinks {
  if (!isObject(response)) return NO_LINKS;
  const previous = response['previous_response_id'];
  const conversation = response['conversation'];
  return {
    previous: typeof previous === 'string' && previous !== '' ? previous : null,
    conversation: conversation == null ? null : conversationId(conversation),
  };
}

function responseIdOfEvent(data: string): string | null {
  try {
    const e = JSON.parse(data) as unknown;
    const response = isObject(e) ? e['response'] : null;
    return isObject(response) && typeof response['id'] === 'string' && response['id'] !== ''
      ? response['id']
      : null;
  } catch {
    return null;
  }
}

type OutputItem = {
  type?: unknown;
  content?: unknown;
  name?: unknown;
  arguments?: unknown;
  input?: unknown;
};
type ResponseBody = {
  object?: unknown;
  model?: unknown;
  status?: unknown;
  output?: unknown;
  usage?: { input_tokens?: unknown; output_tokens?: unknown } | null;
};

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Text, refusal and tool calls of a `response` object's output items. */
function readOutput(r: ResponseBody): Pick<Answer, 'text' | 'refusal' | 'toolCalls'> {
  let text = '';
  let refusal: string | null = null;
  const toolCalls: ToolCall[] = [];
  for (const item of Array.isArray(r.output) ? (r.output as OutputItem[]) : []) {
    if (!isObject(item)) continue;
    if (item.type === 'message' && Array.isArray(item.content))
      for (const part of item.content as unknown[]) {
        if (!isObject(part)) continue;
        if (part['type'] === 'output_text') text += str(part['text']);
        if (part['type'] === 'refusal') refusal = (refusal ?? '') + str(part['refusal']);
      }
    else if (item.type === 'function_call')
      toolCalls.push({ name: str(item.name), arguments: str(item.arguments) });
    else if (item.type === 'custom_tool_call') toolCalls.push({ name: str(item.name), arguments: '{}' });
  }
  return { text, refusal, toolCalls };
}

/** A `response` object (POST /v1/responses without streaming). A failed response is not an answer. */
export function readResponse(raw: Buffer): Answer {
  let r: ResponseBody;
  try {
    r = JSON.parse(raw.toString('utf8')) as ResponseBody;
  } catch {
    return MALFORMED;
  }
  if (!isObject(r) || r.object !== 'response' || r.status === 'failed') return MALFORMED;
  return Object.assign(readOutput(r), {
    promptTokens: tokenCount(r.usage?.input_tokens),
    completionTokens: tokenCount(r.usage?.output_tokens),
    malformed: false,
    responseModel: typeof r.model === 'string' ? r.model : null,
  });
}

/**
 * A streamed response: typed events (`event: response.output_text.delta` …). Text and refusal come
 * from their deltas as they arrive (for time to first token); `response.completed` carries the
 * whole response, whose output and usage are authoritative. A `response.failed` or `error` event,
 * or a stream that never completes with a response, is not an answer.
 */
export class ResponsesStreamReader implements StreamAnswerReader {
  private text = '';
  private refusal: string | null = null;
  private completed: ResponseBody | null = null;
  private failed = false;
  private readonly events = new SseEvents(({ event, data }) => this.onEvent(event, data));
  readonly tokens = new TokenTimes();

  push(chunk: Uint8Array): void {
    this.events.push(chunk);
  }

  finish(): Answer {
    this.events.finish();
    const done = this.completed;
    if (this.failed || (!done && this.text === '' && this.refusal === null)) return MALFORMED;
    const final = done ? readOutput(done) : { text: this.text, refusal: this.refusal, toolCalls: [] };
    return Object.assign(final, {
      promptTokens: tokenCount(done?.usage?.input_tokens),
      completionTokens: tokenCount(done?.usage?.output_tokens),
      malformed: false,
      responseModel: typeof done?.model === 'string' ? done.model : null,
    });
  }

  private onEvent(event: string | undefined, data: string): void {
    let e: { type?: unknown; delta?: unknown; response?: unknown };
    try {
      e = JSON.parse(data) as typeof e;
    } catch {
      return;
    }
    if (!isObject(e)) return;
    const type = typeof e.type === 'string' ? e.type : event;
    switch (type) {
      case 'response.output_text.delta':
        if (typeof e.delta === 'string' && e.delta) {
          this.tokens.tick();
          this.text += e.delta;
        }
        return;
      case 'response.refusal.delta':
        if (typeof e.delta === 'string' && e.delta) {
          this.tokens.tick();
          this.refusal = (this.refusal ?? '') + e.delta;
        }
        return;
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta':
        this.tokens.tick();
        return;
      case 'response.completed':
      case 'response.incomplete':
        if (isObject(e.response)) this.completed = e.response;
        return;
      case 'response.failed':
      case 'error':
        this.failed = true;
        return;
    }
  }
}

/** POST /v1/responses (the Responses API), JSON and streamed. */
export const responses: EndpointAdapter<ResponsesRequest> = {
  name: 'responses',
  path: '/v1/responses',
  upstreamPath: '/responses',
  parse: parseResponsesRequest,
  upstreamPayload(request: ResponsesRequest, target: UpstreamTarget, purpose: 'serve' | 'shadow'): string {
    const versioned = applyResponsesPrompt(request.body, target.prompt);
    if (purpose === 'serve') return withModel(versioned, target.upstreamModel);
    // A copy must not be stored as part of the user's conversation; it streams like the primary.
    return withModel(versioned, target.upstreamModel, { stream: request.stream, store: false });
  },
  readJson: (body: Buffer): Answer => readResponse(body),
  /** A response continuing a stored one only exists on the version that stored it. */
  shadowable: (request: ResponsesRequest): boolean =>
    request.body['previous_response_id'] == null && request.body['conversation'] == null,
  streamReader: (): StreamAnswerReader => new ResponsesStreamReader(),
  threads: {
    idPrefix: RESPONSE_PREFIX,
    continues: (request) => {
      const id = request.body['previous_response_id'];
      return typeof id === 'string' ? id : null;
    },
    restore: (request, upstreamId) => {
      request.body['previous_response_id'] = upstreamId;
    },
    conversation: (request) =>
      request.body['conversation'] == null ? null : conversationId(request.body['conversation']),
    restoreConversation: (request, upstreamId) => {
      const c = request.body['conversation'];
      if (isObject(c)) c['id'] = upstreamId;
      else request.body['conversation'] = upstreamId;
    },
    idOfJson: responseIdOfJson,
    idOfFirstEvent: responseIdOfEvent,
  },
  pairPrompt(request: ResponsesRequest, mode: CaptureMode): PairEvent['prompt'] {
    return promptOf(request.messages, mode);
  },
};
