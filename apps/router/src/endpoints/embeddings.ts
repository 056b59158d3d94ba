import type { PairEvent } from '@aviary/contracts';
import type { UpstreamTarget } from '@aviary/domain';
import { type Answer, MALFORMED, type StreamAnswerReader, tokenCount } from '../answers/answer';
import { type CaptureMode, type EndpointAdapter, type ProxiedRequest, RequestError } from './endpoint';
import { commonFields, parseJsonObject, promptOf, withModel } from './request-fields';

export interface EmbeddingRequest extends ProxiedRequest {
  /** How many inputs (one vector each is expected back). */
  readonly inputs: number;
  readonly inputText: string;
}

function inputs(input: unknown): { count: number; text: string } | null {
  if (typeof input === 'string') return { count: 1, text: input };
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((i) => typeof i === 'string')) return { count: input.length, text: input.join('\n') };
  if (input.every((i) => typeof i === 'number')) return { count: 1, text: `[${input.length} tokens]` };
  if (input.every((i) => Array.isArray(i) && i.length > 0 && i.every((t) => typeof t === 'number')))
    return { count: input.length, text: `[${input.length} token inputs]` };
  return null;
}

export function parseEmbeddingRequest(raw: Buffer): EmbeddingRequest {
  const body = parseJsonObject(raw);
  const common = commonFields(body, { streams: false });
  const read = inputs(body['input']);
  if (read === null)
    throw new RequestError(
      "'input' must be a non-empty string, an array of strings, or token ids (an array of integers, or of arrays of integers).",
      'input',
    );
  const format = body['encoding_format'];
  if (format !== undefined && format !== null && format !== 'float' && format !== 'base64')
    throw new RequestError('\'encoding_format\' must be "float" or "base64".', 'encoding_format');
  return {
    body,
    jsonRequested: false,
    jsonSchema: undefined,
    tools: null,
    promptChars: read.text.length,
    inputs: read.count,
    inputText: read.text,
    ...common, // last (its keys are not repeated): see SPREAD_THEN_KEYS in eslint.config.mjs
  };
}

type EmbeddingList = {
  data?: Array<{ embedding?: unknown; index?: unknown }>;
  usage?: { prompt_tokens?: unknown } | null;
};

/** A vector as sent: an array of numbers, or base64 of little-endian float32 (the openai SDKs' default). */
function vectorOf(embedding: unknown): Float32Array | null {
  if (Array.isArray(embedding)) {
    const v = new Float32Array(embedding.length);
    for (let i = 0; i < embedding.length; i++) {
      const x: unknown = embedding[i];
      if (typeof x !== 'number') return null;
      v[i] = x;
    }
    return v;
  }
  if (typeof embedding === 'string') {
    const bytes = Buffer.from(embedding, 'base64');
    if (bytes.length % 4 !== 0) return null;
    const v = new Float32Array(bytes.length / 4);
    for (let i = 0; i < v.length; i++) v[i] = bytes.readFloatLE(i * 4);
    return v;
  }
  return null;
}

export function readEmbeddings(raw: Buffer): Answer {
  let list: EmbeddingList;
  try {
    list = JSON.parse(raw.toString('utf8')) as EmbeddingList;
  } catch {
    return MALFORMED;
  }
  if (typeof list !== 'object' || list === null || !Array.isArray(list.data)) return MALFORMED;
  const vectors: Float32Array[] = [];
  for (const item of list.data) {
    const v = typeof item === 'object' && item !== null ? vectorOf(item.embedding) : null;
    if (!v) return MALFORMED;
    vectors.push(v);
  }
  return {
    text: '',
    refusal: null,
    toolCalls: [],
    promptTokens: tokenCount(list.usage?.prompt_tokens),
    completionTokens: 0,
    malformed: false,
    vectors,
  };
}

/** Cosine similarity of two vectors (0 when either is all zeros); null when their sizes differ. */
export function cosine(a: Float32Array, b: Float32Array): number | null {
  if (a.length !== b.length || a.length === 0) return null;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** POST /v1/embeddings: never streamed; a shadow copy is compared by the cosine of the vectors. */
export const embeddings: EndpointAdapter<EmbeddingRequest> = {
  name: 'embeddings',
  path: '/v1/embeddings',
  upstreamPath: '/embeddings',
  parse: parseEmbeddingRequest,
  upstreamPayload: (request: EmbeddingRequest, target: UpstreamTarget): string =>
    withModel(request.body, target.upstreamModel),
  readJson(body: Buffer, request: EmbeddingRequest): Answer {
    const answer = readEmbeddings(body);
    // One vector per input, or it is not the answer that was asked for.
    return answer.vectors && answer.vectors.length !== request.inputs ? MALFORMED : answer;
  },
  streamReader(): StreamAnswerReader {
    throw new Error('embeddings are not streamed');
  },
  pairPrompt(request: EmbeddingRequest, mode: CaptureMode): PairEvent['prompt'] {
    return promptOf([{ role: 'user', content: request.inputText }], mode);
  },
  /** Mean cosine over the inputs, 0 for an answer with the wrong number of vectors or sizes. */
  similarity(baseline: Answer, shadow: Answer): number | null {
    const a = baseline.vectors;
    const b = shadow.vectors;
    if (!a || !b || a.length === 0) return null;
    if (a.length !== b.length) return 0;
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += cosine(a[i] as Float32Array, b[i] as Float32Array) ?? 0;
    return sum / a.length;
  },
};
