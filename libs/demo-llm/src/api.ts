import { parseChatRequest, type ChatRequest, type RequestProblem } from './chat-request';
import { hashString, mix32 } from './determinism';

/** The OpenAI APIs the demo server answers. */
export type ApiKind = 'chat' | 'responses' | 'completions' | 'embeddings';

export const API_PATHS: Readonly<Record<string, ApiKind>> = {
  '/v1/chat/completions': 'chat',
  '/v1/responses': 'responses',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
};

export interface OfferedTool {
  readonly name: string;
  /** The tool's JSON schema for its arguments. */
  readonly parameters: unknown;
}

/** What the demo server reads from a request of any API. */
export interface DemoRequest extends ChatRequest {
  readonly kind: ApiKind;
  readonly tools: readonly OfferedTool[];
  /** `auto` (the default), `none`, `required`, or a named tool. */
  readonly toolChoice: 'auto' | 'none' | 'required' | { readonly name: string };
  /** Embeddings: the input strings (token-id inputs are hashed as their JSON). */
  readonly inputs: readonly string[];
  readonly dimensions: number | null;
  readonly base64: boolean;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const problem = (message: string, param: string | null, code: string | null): RequestProblem => ({
  message,
  param,
  code,
});

function positiveInt(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p: unknown) => (isRecord(p) && typeof p['text'] === 'string' ? p['text'] : ''))
    .filter((t) => t !== '')
    .join('\n');
}

function toolsOf(tools: unknown): OfferedTool[] {
  if (!Array.isArray(tools)) return [];
  const out: OfferedTool[] = [];
  for (const t of tools as unknown[]) {
    if (!isRecord(t)) continue;
    const fn = isRecord(t['function']) ? t['function'] : t; // chat nests, responses does not
    if (typeof fn['name'] === 'string') out.push({ name: fn['name'], parameters: fn['parameters'] });
  }
  return out;
}

function toolChoiceOf(choice: unknown): DemoRequest['toolChoice'] {
  if (choice === 'none' || choice === 'required' || choice === 'auto') return choice;
  if (isRecord(choice)) {
    const fn = isRecord(choice['function']) ? choice['function'] : choice;
    if (typeof fn['name'] === 'string') return { name: fn['name'] };
  }
  return 'auto';
}

const NO_EXTRAS = { tools: [], toolChoice: 'auto', inputs: [], dimensions: null, base64: false } as const;

function base(body: Record<string, unknown>): Pick<ChatRequest, 'model' | 'stream' | 'includeUsage'> {
  const stream = body['stream'] === true;
  const options = body['stream_options'];
  return {
    model: typeof body['model'] === 'string' ? body['model'] : null,
    stream,
    includeUsage: stream && isRecord(options) && options['include_usage'] === true,
  };
}

/** Minimal validation in OpenAI's words, per API. */
export function parseApiRequest(kind: ApiKind, body: unknown): DemoRequest | RequestProblem {
  if (!isRecord(body))
    return problem('Invalid type for request body: expected an object.', null, 'invalid_type');
  if (body['model'] !== undefined && typeof body['model'] !== 'string')
    return problem("Invalid type for 'model': expected a string.", 'model', 'invalid_type');
  switch (kind) {
    case 'chat': {
      const chat = parseChatRequest(body);
      if ('message' in chat) return chat;
      return {
        ...chat,
        kind,
        ...NO_EXTRAS,
        tools: toolsOf(body['tools']),
        toolChoice: toolChoiceOf(body['tool_choice']),
      };
    }
    case 'responses': {
      const input = body['input'];
      if (typeof input !== 'string' && !Array.isArray(input))
        return problem("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
      let prompt = typeof input === 'string' ? input : '';
      let promptChars = typeof body['instructions'] === 'string' ? body['instructions'].length : 0;
      if (Array.isArray(input))
        for (const item of input as unknown[]) {
          if (!isRecord(item)) continue;
          const text = textOf(item['content'] ?? item['output']);
          promptChars += text.length;
          if (item['role'] === 'user') prompt = text;
        }
      else promptChars += prompt.length;
      const format = isRecord(body['text']) ? body['text']['format'] : undefined;
      const formatType = isRecord(format) ? format['type'] : undefined;
      return {
        ...base(body),
        kind,
        prompt,
        promptChars,
        jsonRequested: formatType === 'json_object' || formatType === 'json_schema',
        schema: isRecord(format) ? format['schema'] : undefined,
        maxTokens: positiveInt(body['max_output_tokens']),
        ...NO_EXTRAS,
        tools: toolsOf(body['tools']),
        toolChoice: toolChoiceOf(body['tool_choice']),
      };
    }
    case 'completions': {
      const p = body['prompt'];
      const prompt = typeof p === 'string' ? p : Array.isArray(p) ? p.map((x) => String(x)).join(' ') : null;
      if (prompt === null)
        return problem("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
      return {
        ...base(body),
        kind,
        prompt,
        promptChars: prompt.length,
        jsonRequested: false,
        schema: undefined,
        maxTokens: positiveInt(body['max_tokens']),
        ...NO_EXTRAS,
      };
    }
    case 'embeddings': {
      const input = body['input'];
      const inputs =
        typeof input === 'string'
          ? [input]
          : Array.isArray(input) && input.length > 0
            ? input.every((i) => typeof i === 'number')
              ? [JSON.stringify(input)]
              : input.map((i) => (typeof i === 'string' ? i : JSON.stringify(i)))
            : null;
      if (inputs === null)
        return problem("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
      const dimensions = body['dimensions'];
      if (dimensions !== undefined && (positiveInt(dimensions) === null || (dimensions as number) > 8192))
        return problem(
          "Invalid 'dimensions': expected an integer from 1 to 8192.",
          'dimensions',
          'invalid_value',
        );
      return {
        model: typeof body['model'] === 'string' ? body['model'] : null,
        stream: false,
        includeUsage: false,
        kind,
        prompt: inputs.join('\n'),
        promptChars: inputs.reduce((n, i) => n + i.length, 0),
        jsonRequested: false,
        schema: undefined,
        maxTokens: null,
        ...NO_EXTRAS,
        inputs,
        dimensions: positiveInt(dimensions),
        base64: body['encoding_format'] === 'base64',
      };
    }
  }
}

/** The tool a request makes the model call, if any (tool_choice, or a tool the prompt names). */
export function toolToCall(request: DemoRequest): OfferedTool | null {
  if (request.tools.length === 0 || request.toolChoice === 'none') return null;
  const choice = request.toolChoice;
  if (typeof choice === 'object') return request.tools.find((t) => t.name === choice.name) ?? null;
  if (choice === 'required') return request.tools[0] ?? null;
  return request.tools.find((t) => request.prompt.includes(t.name)) ?? null;
}

export const DEFAULT_DIMENSIONS = 64;

/**
 * A deterministic embedding: a direction drawn from the input text (the same for every server, so a
 * baseline and a candidate agree), plus `drift` times a direction drawn from the server's name too.
 * Unit length; cosine between two servers' vectors for one input is about 1 / sqrt(1 + drift²).
 */
export function embed(name: string, text: string, dimensions: number, drift: number): Float32Array {
  const v = new Float32Array(dimensions);
  let h = hashString(text);
  let g = hashString(name, hashString(text));
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    h = mix32(h + i + 1);
    g = mix32(g + i + 1);
    const x = h / 4294967296 - 0.5 + drift * (g / 4294967296 - 0.5);
    v[i] = x;
    norm += x * x;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) v[i] = (v[i] as number) * scale;
  return v;
}

export function base64Vector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}
