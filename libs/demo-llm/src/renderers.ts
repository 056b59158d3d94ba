import type { ApiKind } from './api';

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

/** One answer, whatever the API it is rendered for. */
export interface Plan {
  readonly kind: Exclude<ApiKind, 'embeddings'>;
  readonly id: string;
  readonly created: number;
  readonly model: string;
  /** The text, or null when the answer is only a refusal (structured outputs) or a tool call. */
  readonly content: string | null;
  /** The refusal field (chat) / refusal content part (responses). */
  readonly refusal: string | null;
  readonly toolCall: { readonly id: string; readonly name: string; readonly arguments: string } | null;
  readonly finishReason: 'stop' | 'length' | 'tool_calls';
  readonly usage: Usage;
  /** Streams: send a usage chunk (chat and completions, stream_options.include_usage). */
  readonly includeUsage: boolean;
  /** Responses API: the stored response this one continues, or null. */
  readonly previousResponseId: string | null;
  /** Responses API: the conversation the response is a turn of (echoed as `conversation: { id }`). */
  readonly conversationId?: string | null;
}

/** A rendered stream: what goes first, the pieces to pace (with the characters each carries), the end. */
export interface RenderedStream {
  readonly first: string;
  readonly pieces: ReadonlyArray<{ readonly text: string; readonly chars: number }>;
  readonly tail: string;
}

const j = JSON.stringify;

/**
 * A complete JSON answer, split where the content's closing quote is so a caller can splice filler
 * into the content without re-encoding it: `head` ends with the content as a JSON string.
 */
export function renderJson(p: Plan): { head: string; tail: string } {
  switch (p.kind) {
    case 'chat': {
      // Hand-built: about twice as fast as JSON.stringify of the nested object, on the benchmark's hot path.
      const head =
        `{"id":"${p.id}","object":"chat.completion","created":${p.created},"model":${j(p.model)},` +
        `"choices":[{"index":0,"message":{"role":"assistant","content":${j(p.content)}`;
      const calls = p.toolCall
        ? `,"tool_calls":[{"id":"${p.toolCall.id}","type":"function","function":{"name":${j(p.toolCall.name)},"arguments":${j(p.toolCall.arguments)}}}]`
        : '';
      const tail =
        `,"refusal":${j(p.refusal)},"annotations":[]${calls}},"logprobs":null,"finish_reason":"${p.finishReason}"}],` +
        `"usage":${j(p.usage)},"system_fingerprint":null}`;
      return { head, tail };
    }
    case 'completions': {
      const head =
        `{"id":"${p.id}","object":"text_completion","created":${p.created},"model":${j(p.model)},` +
        `"choices":[{"text":${j(p.content ?? '')}`;
      const tail = `,"index":0,"logprobs":null,"finish_reason":"${p.finishReason}"}],"usage":${j(p.usage)}}`;
      return { head, tail };
    }
    case 'responses': {
      const response = responseObject(p, 'completed');
      const text = j(response);
      // No splice point needed for responses (padding applies to chat and completions).
      return { head: text, tail: '' };
    }
  }
}

/** A streamed answer: chat.completion.chunk / text_completion chunks, or the Responses API's typed events. */
export function renderStream(p: Plan, deltas: readonly string[]): RenderedStream {
  switch (p.kind) {
    case 'chat':
      return chatStream(p, deltas);
    case 'completions':
      return completionsStream(p, deltas);
    case 'responses':
      return responsesStream(p, deltas);
  }
}

function chatStream(p: Plan, deltas: readonly string[]): RenderedStream {
  const usageField = p.includeUsage ? ',"usage":null' : '';
  const head = `data: {"id":"${p.id}","object":"chat.completion.chunk","created":${p.created},"model":${j(p.model)},"system_fingerprint":null,"choices":[{"index":0,"delta":`;
  const chunk = (delta: string, finish: string | null): string =>
    `${head}${delta},"logprobs":null,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]${usageField}}\n\n`;
  const first = chunk(`{"role":"assistant","content":${p.toolCall ? 'null' : '""'},"refusal":null}`, null);
  let pieces: RenderedStream['pieces'];
  if (p.toolCall) {
    const call = p.toolCall;
    const open = chunk(
      `{"tool_calls":[{"index":0,"id":"${call.id}","type":"function","function":{"name":${j(call.name)},"arguments":""}}]}`,
      null,
    );
    pieces = [
      { text: open, chars: call.name.length },
      ...pieceArgs(call.arguments).map((a) => ({
        text: chunk(`{"tool_calls":[{"index":0,"function":{"arguments":${j(a)}}}]}`, null),
        chars: a.length,
      })),
    ];
  } else if (p.refusal !== null)
    pieces = deltas.map((d) => ({ text: chunk(`{"refusal":${j(d)}}`, null), chars: d.length }));
  else pieces = deltas.map((d) => ({ text: chunk(`{"content":${j(d)}}`, null), chars: d.length }));
  let tail = chunk('{}', p.finishReason);
  if (p.includeUsage)
    tail += `data: {"id":"${p.id}","object":"chat.completion.chunk","created":${p.created},"model":${j(p.model)},"system_fingerprint":null,"choices":[],"usage":${j(p.usage)}}\n\n`;
  return { first, pieces, tail: `${tail}data: [DONE]\n\n` };
}

function completionsStream(p: Plan, deltas: readonly string[]): RenderedStream {
  const head = `data: {"id":"${p.id}","object":"text_completion","created":${p.created},"model":${j(p.model)},"choices":[{"text":`;
  const chunk = (text: string, finish: string | null) =>
    `${head}${j(text)},"index":0,"logprobs":null,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]}\n\n`;
  let tail = chunk('', p.finishReason);
  if (p.includeUsage)
    tail += `data: {"id":"${p.id}","object":"text_completion","created":${p.created},"model":${j(p.model)},"choices":[],"usage":${j(p.usage)}}\n\n`;
  return {
    first: '',
    pieces: deltas.map((d) => ({ text: chunk(d, null), chars: d.length })),
    tail: `${tail}data: [DONE]\n\n`,
  };
}

function responseObject(p: Plan, status: 'in_progress' | 'completed'): Record<string, unknown> {
  const done = status === 'completed';
  return {
    id: p.id,
    object: 'response',
    created_at: p.created,
    status,
    model: p.model,
    previous_response_id: p.previousResponseId,
    conversation: p.conversationId ? { id: p.conversationId } : null,
    output: done ? outputItems(p) : [],
    usage: done
      ? {
          input_tokens: p.usage.prompt_tokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: p.usage.completion_tokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: p.usage.total_tokens,
        }
      : null,
    incomplete_details: done && p.finishReason === 'length' ? { reason: 'max_output_tokens' } : null,
    error: null,
  };
}

/** A response's output items (also what a conversation it is a turn of gets appended). */
export function outputItems(p: Plan): unknown[] {
  if (p.toolCall)
    return [
      {
        type: 'function_call',
        id: `fc_${p.id}`,
        call_id: p.toolCall.id,
        name: p.toolCall.name,
        arguments: p.toolCall.arguments,
        status: 'completed',
      },
    ];
  const part =
    p.refusal !== null
      ? { type: 'refusal', refusal: p.refusal }
      : { type: 'output_text', text: p.content ?? '', annotations: [] };
  return [{ type: 'message', id: `msg_${p.id}`, status: 'completed', role: 'assistant', content: [part] }];
}

function responsesStream(p: Plan, deltas: readonly string[]): RenderedStream {
  let seq = 0;
  const ev = (type: string, fields: Record<string, unknown>) =>
    `event: ${type}\ndata: ${j({ type, sequence_number: seq++, ...fields })}\n\n`;
  const itemId = p.toolCall ? `fc_${p.id}` : `msg_${p.id}`;
  let first = ev('response.created', { response: responseObject(p, 'in_progress') });
  first += ev('response.in_progress', { response: responseObject(p, 'in_progress') });
  const loc = { item_id: itemId, output_index: 0 };
  let pieces: RenderedStream['pieces'];
  let tail = '';
  if (p.toolCall) {
    const call = p.toolCall;
    first += ev('response.output_item.added', {
      output_index: 0,
      item: {
        type: 'function_call',
        id: itemId,
        call_id: call.id,
        name: call.name,
        arguments: '',
        status: 'in_progress',
      },
    });
    pieces = pieceArgs(call.arguments).map((a) => ({
      text: ev('response.function_call_arguments.delta', { ...loc, delta: a }),
      chars: a.length,
    }));
    tail += ev('response.function_call_arguments.done', { ...loc, arguments: call.arguments });
  } else {
    const refusal = p.refusal !== null;
    first += ev('response.output_item.added', {
      output_index: 0,
      item: { type: 'message', id: itemId, status: 'in_progress', role: 'assistant', content: [] },
    });
    const empty = refusal
      ? { type: 'refusal', refusal: '' }
      : { type: 'output_text', text: '', annotations: [] };
    first += ev('response.content_part.added', { ...loc, content_index: 0, part: empty });
    const type = refusal ? 'response.refusal.delta' : 'response.output_text.delta';
    pieces = deltas.map((d) => ({
      text: ev(type, { ...loc, content_index: 0, delta: d, ...(refusal ? {} : { logprobs: [] }) }),
      chars: d.length,
    }));
    const full = refusal ? p.refusal : (p.content ?? '');
    tail += refusal
      ? ev('response.refusal.done', { ...loc, content_index: 0, refusal: full })
      : ev('response.output_text.done', { ...loc, content_index: 0, text: full, logprobs: [] });
    const [item] = outputItems(p) as Array<{ content: unknown[] }>;
    tail += ev('response.content_part.done', { ...loc, content_index: 0, part: item?.content[0] });
  }
  tail += ev('response.output_item.done', { output_index: 0, item: outputItems(p)[0] });
  tail += ev('response.completed', { response: responseObject(p, 'completed') });
  return { first, pieces, tail };
}

/** Tool-call arguments in a few pieces, as models stream them. */
function pieceArgs(args: string): string[] {
  const size = Math.max(4, Math.ceil(args.length / 4));
  const out: string[] = [];
  for (let i = 0; i < args.length; i += size) out.push(args.slice(i, i + size));
  return out;
}
