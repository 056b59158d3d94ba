import type { PairEvent } from '@aviary/contracts';
import { applyChatPrompt, type UpstreamTarget } from '@aviary/domain';
import type { Answer, StreamAnswerReader } from '../answers/answer';
import { ChatStreamReader, readChatCompletion } from './chat-completions.reader';
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
  shadowBody,
  withModel,
} from './request-fields';

/** The part of an OpenAI chat-completions request the router reads; everything else passes through. */
export interface ChatRequest extends ProxiedRequest {
  readonly messages: ReadonlyArray<{ role: string; content: unknown }>;
}

/** Hand-written on purpose: this runs on every request and must stay cheap. */
export function parseChatRequest(raw: Buffer): ChatRequest {
  const body = parseJsonObject(raw);
  const common = commonFields(body);
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0)
    throw new RequestError("'messages' must be a non-empty array.", 'messages');
  let promptChars = 0;
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isObject(m) || typeof m['role'] !== 'string')
      throw new RequestError(`'messages[${i}].role' must be a string.`, `messages[${i}].role`);
    const c = m['content'];
    if (c !== null && c !== undefined && typeof c !== 'string' && !Array.isArray(c)) {
      throw new RequestError(
        `'messages[${i}].content' must be a string or an array of parts.`,
        `messages[${i}].content`,
      );
    }
    promptChars += typeof c === 'string' ? c.length : contentText(c).length;
  }
  const format = optionalObject(body, 'response_format');
  const formatType = format?.['type'];
  return {
    body,
    jsonRequested: formatType === 'json_object' || formatType === 'json_schema',
    jsonSchema: formatSchema(format),
    tools: offeredTools(body['tools'], body['functions']),
    promptChars,
    messages: messages as ChatRequest['messages'],
    ...common, // last (its keys are not repeated): see SPREAD_THEN_KEYS in eslint.config.mjs
  };
}

/** POST /v1/chat/completions. */
export const chatCompletions: EndpointAdapter<ChatRequest> = {
  name: 'chat.completions',
  path: '/v1/chat/completions',
  upstreamPath: '/chat/completions',
  parse: parseChatRequest,
  upstreamPayload(request: ChatRequest, target: UpstreamTarget, purpose: 'serve' | 'shadow'): string {
    // The version's prompt and parameters: a shadow copy gets the shadow version's own.
    const versioned = applyChatPrompt(request.body, target.prompt);
    if (purpose === 'serve') return withModel(versioned, target.upstreamModel);
    const { body, extra } = shadowBody({ body: versioned, stream: request.stream });
    return withModel(body, target.upstreamModel, extra);
  },
  readJson: (body: Buffer): Answer => readChatCompletion(body),
  streamReader: (): StreamAnswerReader => new ChatStreamReader(),
  pairPrompt(request: ChatRequest, mode: CaptureMode): PairEvent['prompt'] {
    return promptOf(
      request.messages.map((m) => ({ role: m.role, content: contentText(m.content) })),
      mode,
    );
  },
};
