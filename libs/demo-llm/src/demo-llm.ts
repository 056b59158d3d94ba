import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  answerText,
  brokenJson,
  schemaInstance,
  estimateTokens,
  jsonAnswer,
  pick,
  judgeVerdict,
  REFUSALS,
  splitIntoDeltas,
} from './answers';
import {
  applyBehaviour,
  BehaviourError,
  BEHAVIOURS,
  DEFAULT_BEHAVIOUR,
  resolveBehaviourUpdate,
  type Behaviour,
  type BehaviourPreset,
  type FullBehaviour,
} from './behaviour';
import {
  API_PATHS,
  type ApiKind,
  base64Vector,
  DEFAULT_DIMENSIONS,
  type DemoRequest,
  embed,
  isRecord,
  parseApiRequest,
  toolToCall,
} from './api';
import { isRequestProblem } from './chat-request';
import { decide, type Decision, hashBytes, requestState, type Fate } from './determinism';
import { ConversationStore } from './conversations';
import { outputItems, type Plan, renderJson, renderStream, type Usage } from './renderers';

export interface DemoLlmOptions {
  /** Shows up in answers ("Answer from <name>: …") and as the one model of GET /v1/models. */
  readonly name: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  readonly behaviour?: Partial<Behaviour>;
  /** Mixed into every per-request decision; default 0. */
  readonly seed?: number;
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>` (401 otherwise). /admin/* stays open. */
  readonly apiKey?: string;
  /** Larger bodies get 413; default 4 MiB. */
  readonly maxBodyBytes?: number;
}

/**
 * What happened to each chat completion request, counted once per request: the fate that was answered,
 * 'hang' when a hang starts, 'aborted' when the client left before the response was complete, or
 * 'badRequest' / 'unauthorized' / 'tooLarge' when it was turned away.
 */
export type DemoLlmOutcome = Fate | 'aborted' | 'badRequest' | 'unauthorized' | 'tooLarge';

export interface DemoLlmStats {
  readonly name: string;
  /** Chat completion requests received (other endpoints are not counted). */
  readonly requests: number;
  /** Received and not yet answered or abandoned; hung requests stay here until their client gives up. */
  readonly inFlight: number;
  readonly byOutcome: Readonly<Record<DemoLlmOutcome, number>>;
}

export interface DemoLlmReceived {
  readonly kind: ApiKind;
  readonly body: Readonly<Record<string, unknown>>;
  /** The W3C `traceparent` header the request came with (a tracing caller's span), if any. */
  readonly traceparent?: string;
}

export interface DemoLlm {
  readonly name: string;
  /** Base URL for OpenAI clients, ending in /v1 (e.g. http://127.0.0.1:41234/v1). */
  readonly url: string;
  /** http://host:port, for /admin/* and /health. */
  readonly origin: string;
  readonly port: number;
  /** Merges a partial behaviour (or replaces it with a preset); returns the new one. Throws BehaviourError. */
  setBehaviour(update: Partial<Behaviour> | BehaviourPreset): FullBehaviour;
  behaviour(): FullBehaviour;
  stats(): DemoLlmStats;
  /**
   * The last requests it received (up to 100, oldest first), as parsed JSON: what a router or a
   * golden-set run actually sent (system prompt, parameters). Also served at GET /admin/received.
   */
  received(): readonly DemoLlmReceived[];
  /** Stops listening and destroys open connections (hung and keep-alive ones included). Idempotent. */
  close(): Promise<void>;
}

const OUTCOMES: readonly DemoLlmOutcome[] = [
  'ok',
  'refusal',
  'empty',
  'brokenJson',
  'error',
  'hang',
  'drop',
  'aborted',
  'badRequest',
  'unauthorized',
  'tooLarge',
];

const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
const ADMIN_MAX_BODY_BYTES = 64 * 1024;
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const ANSWER_CACHE_SIZE = 1024;
const RECEIVED_KEPT = 100;
const ANSWER_CACHE_MAX_PROMPT = 4096;

function errorBody(message: string, type: string, param: string | null, code: string | null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

const SERVER_ERROR = errorBody(
  'The server had an error while processing your request. Sorry about that!',
  'server_error',
  null,
  null,
);
const BAD_JSON = errorBody(
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
  'invalid_request_error',
  null,
  null,
);
const NO_API_KEY = errorBody(
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
  'invalid_request_error',
  null,
  null,
);
const WRONG_API_KEY = errorBody(
  'Incorrect API key provided.',
  'invalid_request_error',
  null,
  'invalid_api_key',
);
const TOO_LARGE = errorBody('Request body too large.', 'invalid_request_error', null, 'request_too_large');

const SSE_HEADERS: OutgoingHttpHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};

/** One chat completion request from arrival to its last byte (or its client's departure). */
interface Exchange {
  readonly res: ServerResponse;
  readonly sequence: number;
  counted: boolean;
  released: boolean;
  closed: boolean;
  timer: NodeJS.Timeout | undefined;
  /** A Responses API answer to keep, so that a later request can continue it (`store`, default true). */
  stores?: boolean;
  /** Responses API: the stored response this one continues (echoed as `previous_response_id`). */
  previousResponseId?: string | null;
  /** Responses API: the conversation it is a turn of, and its input (appended to it). */
  conversation?: { readonly id: string; readonly input: unknown } | null;
}

const CONVERSATIONS = '/v1/conversations';

/** The items a response adds to its conversation: its input (as the user's message), then its output. */
function conversationTurn(input: unknown, plan: Plan): Record<string, unknown>[] {
  const inputs: Record<string, unknown>[] =
    typeof input === 'string'
      ? [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: input }] }]
      : Array.isArray(input)
        ? (input as unknown[]).filter(isRecord)
        : [];
  return [...inputs, ...(outputItems(plan) as Record<string, unknown>[])];
}

/** Stored Responses API answers kept per server (the oldest forgotten first). */
const STORED_RESPONSES_KEPT = 10_000;

function readBody(
  req: IncomingMessage,
  limit: number,
  onBody: (body: Buffer) => void,
  onTooLarge: () => void,
): void {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    req.resume();
    onTooLarge();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (chunk: Buffer) => {
    if (tooLarge) return;
    size += chunk.length;
    if (size > limit) {
      tooLarge = true;
      chunks.length = 0;
      onTooLarge();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (!tooLarge) onBody(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return { ok: true, value };
  } catch {
    return { ok: false };
  }
}

class DemoLlmServer implements DemoLlm {
  readonly url: string;
  readonly origin: string;
  readonly port: number;

  private current: Readonly<FullBehaviour>;
  private readonly seed: number;
  private readonly expectedAuth: string | null;
  private readonly maxBodyBytes: number;
  private readonly modelsBody: string;
  private readonly answers = new Map<string, string>();
  private readonly receivedLog: DemoLlmReceived[] = [];
  private answersLengthFactor = 1;
  private sequence = 0;
  /** Ids of the Responses API answers this server stored: only it can continue them. */
  private readonly storedResponses = new Map<string, Plan>();
  /** Makes this server's response ids its own (two demo servers never hand out the same id). */
  private readonly idTag = randomBytes(3).toString('hex');
  /** The conversations this server holds: only it can answer a response in one. */
  private readonly conversations = new ConversationStore(this.idTag);
  private inFlight = 0;
  private readonly byOutcome: Record<DemoLlmOutcome, number>;
  private closing: Promise<void> | null = null;

  constructor(
    readonly name: string,
    private readonly server: ReturnType<typeof createServer>,
    options: DemoLlmOptions,
  ) {
    const address = server.address() as AddressInfo;
    this.port = address.port;
    const host = options.host ?? '127.0.0.1';
    const urlHost =
      host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
    this.origin = `http://${urlHost}:${this.port}`;
    this.url = `${this.origin}/v1`;
    this.current = applyBehaviour(DEFAULT_BEHAVIOUR, options.behaviour ?? {});
    this.seed = Math.trunc(options.seed ?? 0) >>> 0;
    this.expectedAuth = options.apiKey === undefined ? null : `Bearer ${options.apiKey}`;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.byOutcome = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<DemoLlmOutcome, number>;
    this.modelsBody = JSON.stringify({
      object: 'list',
      data: [this.modelObject()],
    });
  }

  setBehaviour(update: Partial<Behaviour> | BehaviourPreset): FullBehaviour {
    this.current = Object.freeze(applyBehaviour(this.current, update));
    return { ...this.current };
  }

  behaviour(): FullBehaviour {
    return { ...this.current };
  }

  stats(): DemoLlmStats {
    return {
      name: this.name,
      requests: this.sequence,
      inFlight: this.inFlight,
      byOutcome: { ...this.byOutcome },
    };
  }

  received(): readonly DemoLlmReceived[] {
    return [...this.receivedLog];
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const kind = API_PATHS[path];
    if (kind) {
      if (method === 'POST') return this.api(kind, req, res);
      return this.methodNotAllowed(req, res, method, path);
    }
    if (path.startsWith('/v1/responses/')) return this.storedResponse(req, res, method, path);
    if (path === CONVERSATIONS || path.startsWith(`${CONVERSATIONS}/`))
      return this.conversation(req, res, method, path.slice(CONVERSATIONS.length));
    if (path.startsWith('/v1/')) {
      if (method !== 'GET' && method !== 'HEAD') return this.methodNotAllowed(req, res, method, path);
      if (!this.authorised(req)) return this.send(res, 401, this.authError(req));
      if (path === '/v1/models') return this.send(res, 200, this.modelsBody);
      if (path === `/v1/models/${encodeURIComponent(this.name)}` || path === `/v1/models/${this.name}`) {
        return this.send(res, 200, JSON.stringify(this.modelObject()));
      }
      if (path.startsWith('/v1/models/')) {
        return this.send(
          res,
          404,
          errorBody(
            `The model '${safeDecode(path.slice('/v1/models/'.length))}' does not exist`,
            'invalid_request_error',
            'model',
            'model_not_found',
          ),
        );
      }
      return this.notFound(req, res, method, path);
    }
    if (path === '/admin/behaviour') {
      if (method === 'GET') return this.send(res, 200, JSON.stringify(this.current));
      if (method === 'PUT' || method === 'PATCH' || method === 'POST') return this.adminUpdate(req, res);
      return this.methodNotAllowed(req, res, method, path);
    }
    if (method === 'GET' && path === '/admin/received')
      return this.send(res, 200, JSON.stringify(this.receivedLog));
    if (method === 'GET' && path === '/admin/stats') return this.send(res, 200, JSON.stringify(this.stats()));
    if (method === 'GET' && path === '/admin/presets') return this.send(res, 200, JSON.stringify(BEHAVIOURS));
    if (method === 'GET' && (path === '/health' || path === '/healthz')) {
      return this.send(res, 200, JSON.stringify({ status: 'ok', name: this.name }));
    }
    return this.notFound(req, res, method, path);
  };

  // ---- chat completions, responses, completions, embeddings ---------------------------------------

  private api(kind: ApiKind, req: IncomingMessage, res: ServerResponse): void {
    const ex: Exchange = {
      res,
      sequence: ++this.sequence,
      counted: false,
      released: false,
      closed: false,
      timer: undefined,
    };
    this.inFlight++;
    res.once('close', () => {
      ex.closed = true;
      if (ex.timer !== undefined) clearTimeout(ex.timer);
      ex.timer = undefined;
      this.count(ex, 'aborted');
      this.release(ex);
    });
    if (!this.authorised(req)) {
      req.resume();
      return this.finish(ex, 401, this.authError(req), 'unauthorized');
    }
    readBody(
      req,
      this.maxBodyBytes,
      (body) => this.completion(ex, kind, body, req.headers['traceparent']),
      () => this.finish(ex, 413, TOO_LARGE, 'tooLarge', { connection: 'close' }),
    );
  }

  private completion(
    ex: Exchange,
    kind: ApiKind,
    body: Buffer,
    traceparent: string | string[] | undefined,
  ): void {
    if (ex.closed) return;
    const parsed = parseJson(body);
    if (!parsed.ok) return this.finish(ex, 400, BAD_JSON, 'badRequest');
    if (typeof parsed.value === 'object' && parsed.value !== null && !Array.isArray(parsed.value)) {
      this.receivedLog.push({
        kind,
        body: parsed.value as Record<string, unknown>,
        ...(typeof traceparent === 'string' ? { traceparent } : {}),
      });
      if (this.receivedLog.length > RECEIVED_KEPT) this.receivedLog.shift();
    }
    const request = parseApiRequest(kind, parsed.value);
    if (isRequestProblem(request)) {
      return this.finish(
        ex,
        400,
        errorBody(request.message, 'invalid_request_error', request.param, request.code),
        'badRequest',
      );
    }
    if (request.kind === 'responses') {
      const raw = parsed.value as Record<string, unknown>;
      const previous = raw['previous_response_id'];
      // As OpenAI: a response continues only one this server stored.
      if (typeof previous === 'string' && !this.storedResponses.has(previous))
        return this.finish(
          ex,
          400,
          errorBody(
            `Previous response with id '${previous}' not found.`,
            'invalid_request_error',
            'previous_response_id',
            'previous_response_not_found',
          ),
          'badRequest',
        );
      const conversation = isRecord(raw['conversation']) ? raw['conversation']['id'] : raw['conversation'];
      if (typeof conversation === 'string' && !this.conversations.has(conversation))
        return this.finish(
          ex,
          404,
          errorBody(
            `Conversation with id '${conversation}' not found.`,
            'invalid_request_error',
            'conversation',
            null,
          ),
          'badRequest',
        );
      ex.stores = raw['store'] !== false;
      ex.previousResponseId = typeof previous === 'string' ? previous : null;
      ex.conversation = typeof conversation === 'string' ? { id: conversation, input: raw['input'] } : null;
    }
    const behaviour = this.current;
    const state = requestState(this.seed, hashBytes(body), ex.sequence);
    const decision = decide(behaviour, state, request.jsonRequested);
    if (decision.fate === 'hang') {
      this.count(ex, 'hang');
      return;
    }
    const answer = (): void =>
      request.kind === 'embeddings'
        ? this.embeddings(ex, request, behaviour, decision.fate)
        : this.answer(ex, request, behaviour, decision, state);
    if (decision.delayMs > 0) ex.timer = setTimeout(answer, decision.delayMs);
    else answer();
  }

  private answer(
    ex: Exchange,
    request: DemoRequest,
    behaviour: Readonly<FullBehaviour>,
    decision: Decision,
    state: number,
  ): void {
    const { fate, variant } = decision;
    ex.timer = undefined;
    if (ex.closed) return;
    const prefix = request.kind === 'chat' ? 'chatcmpl' : request.kind === 'responses' ? 'resp' : 'cmpl';
    const id =
      request.kind === 'responses'
        ? `resp_${this.idTag}${ex.sequence.toString(36)}${state.toString(36)}`
        : `${prefix}-${ex.sequence.toString(36)}${state.toString(36)}`;

    const headers: OutgoingHttpHeaders = { 'x-request-id': `req_${id}`, 'x-demo-llm-outcome': fate };
    if (fate === 'drop') {
      this.count(ex, 'drop');
      this.release(ex);
      ex.res.socket?.destroy();
      return;
    }
    if (fate === 'error') return this.finish(ex, 500, SERVER_ERROR, 'error', headers);

    let content: string;
    let refusal: string | null = null;
    let toolCall: Plan['toolCall'] = null;
    const tool = fate === 'ok' ? toolToCall(request) : null;
    const verdict = judgeVerdict(request.prompt);
    if (verdict !== null)
      content = verdict; // asked to judge two answers (Aviary's judge prompt): a verdict
    else if (fate === 'refusal') {
      content = pick(REFUSALS, variant);
      // Structured outputs refuse in the refusal field, with no content.
      if (request.schema !== undefined && request.kind !== 'completions') {
        refusal = content;
        content = '';
      }
    } else if (fate === 'empty') content = '';
    else if (tool) {
      content = '';
      const args = JSON.stringify(schemaInstance(tool.parameters, request.prompt, this.name));
      toolCall = {
        id: `call_${id}`,
        // Broken calls: odd variants call a tool that was not offered, even ones cut the arguments off.
        name: decision.badToolCall && variant % 2 === 1 ? 'undeclared_tool' : tool.name,
        arguments:
          decision.badToolCall && variant % 2 === 0 ? args.slice(0, Math.max(1, args.length - 2)) : args,
      };
    } else {
      const text = this.answerFor(request.prompt, behaviour.lengthFactor);
      content = request.jsonRequested ? jsonAnswer(this.name, text, request.schema) : text;
      if (fate === 'brokenJson') content = brokenJson(content, variant);
      else if (decision.schemaViolation && request.schema !== undefined)
        content = JSON.stringify({ unexpected: true, answer: null });
    }
    // Filler up to padToChars for plain non-streamed answers, added as bytes (a 20 MB answer costs
    // this server a copy, not four passes over a string).
    const pad =
      fate === 'ok' && !request.jsonRequested && !request.stream
        ? Math.max(0, behaviour.padToChars - content.length)
        : 0;
    let finishReason: Plan['finishReason'] = toolCall ? 'tool_calls' : 'stop';
    if (!toolCall && request.maxTokens !== null && estimateTokens(content.length) > request.maxTokens) {
      content = content.slice(0, request.maxTokens * 4);
      finishReason = 'length';
    }
    const promptTokens = estimateTokens(request.promptChars);
    const completionTokens = estimateTokens(
      content.length + pad + (refusal?.length ?? 0) + (toolCall?.arguments.length ?? 0),
    );
    const usage: Usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const plan: Plan = {
      kind: request.kind === 'embeddings' ? 'chat' : request.kind,
      id,
      created: Math.floor(Date.now() / 1000),
      model: request.model ?? this.name,
      content: (refusal !== null || toolCall) && content === '' ? null : content,
      refusal,
      toolCall,
      finishReason,
      usage,
      includeUsage: request.includeUsage,
      previousResponseId: ex.previousResponseId ?? null,
      conversationId: ex.conversation?.id ?? null,
    };
    if (ex.conversation)
      this.conversations.append(ex.conversation.id, conversationTurn(ex.conversation.input, plan));
    if (ex.stores) {
      this.storedResponses.set(id, plan);
      if (this.storedResponses.size > STORED_RESPONSES_KEPT)
        this.storedResponses.delete(this.storedResponses.keys().next().value!);
    }
    if (request.stream) return this.stream(ex, plan, content || refusal || '', headers, fate, behaviour);
    const { head, tail } = renderJson(plan);
    const body =
      pad > 0 && plan.kind !== 'responses'
        ? Buffer.concat([Buffer.from(head.slice(0, -1)), padding(pad), Buffer.from(`"${tail}`)])
        : head + tail;
    if (behaviour.dripIntervalMs > 0) return this.drip(ex, body, fate, headers, behaviour.dripIntervalMs);
    this.finish(ex, 200, body, fate, headers);
  }

  /** Writes a complete JSON answer in 16 slices, `intervalMs` apart (a body that keeps dripping). */
  private drip(
    ex: Exchange,
    body: string | Buffer,
    fate: Fate,
    headers: OutgoingHttpHeaders,
    intervalMs: number,
  ): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const slice = Math.ceil(bytes.length / 16);
    ex.res.writeHead(200, { 'content-type': 'application/json', ...headers, 'content-length': bytes.length });
    let offset = 0;
    const next = (): void => {
      ex.timer = undefined;
      if (ex.closed) return;
      const end = Math.min(bytes.length, offset + slice);
      const last = end >= bytes.length;
      if (last) {
        this.count(ex, fate);
        this.release(ex);
        ex.res.end(bytes.subarray(offset, end));
        return;
      }
      ex.res.write(bytes.subarray(offset, end));
      offset = end;
      ex.timer = setTimeout(next, intervalMs);
    };
    next();
  }

  private stream(
    ex: Exchange,
    plan: Plan,
    text: string,
    headers: OutgoingHttpHeaders,
    fate: Fate,
    behaviour: Readonly<FullBehaviour>,
  ): void {
    const res = ex.res;
    const { first, pieces, tail } = renderStream(
      plan,
      behaviour.streamChunks > 0 ? evenSlices(text, behaviour.streamChunks) : splitIntoDeltas(text),
    );
    const tps = behaviour.tokensPerSecond;
    const every = behaviour.chunkIntervalMs;
    // JSON escapes newlines inside data, so every raw \n is framing.
    const frame = behaviour.sseCrlf ? (t: string) => t.replace(/\n/g, '\r\n') : (t: string) => t;

    if (!(tps > 0) && !(every > 0)) {
      let all = first;
      for (const p of pieces) all += p.text;
      all += tail;
      return this.finish(ex, 200, frame(all), fate, { ...SSE_HEADERS, ...headers });
    }

    res.writeHead(200, { ...SSE_HEADERS, ...headers });
    if (first) res.write(frame(first));
    let i = 0;
    const next = (): void => {
      const piece = pieces[i];
      if (piece === undefined) {
        this.count(ex, fate);
        this.release(ex);
        res.end(frame(tail));
        return;
      }
      ex.timer = setTimeout(
        () => {
          ex.timer = undefined;
          if (ex.closed) return;
          i++;
          res.write(frame(piece.text));
          next();
        },
        every > 0 ? every : (estimateTokens(piece.chars) / tps) * 1000,
      );
    };
    next();
  }

  /** An embeddings list: one deterministic vector per input (see embed()). */
  private embeddings(
    ex: Exchange,
    request: DemoRequest,
    behaviour: Readonly<FullBehaviour>,
    fate: Fate,
  ): void {
    ex.timer = undefined;
    if (ex.closed) return;
    const headers: OutgoingHttpHeaders = { 'x-demo-llm-outcome': fate };
    if (fate === 'drop') {
      this.count(ex, 'drop');
      this.release(ex);
      ex.res.socket?.destroy();
      return;
    }
    if (fate === 'error') return this.finish(ex, 500, SERVER_ERROR, 'error', headers);
    const dims = request.dimensions ?? DEFAULT_DIMENSIONS;
    const data = request.inputs.map((input, index) => {
      const v = embed(this.name, input, fate === 'empty' ? 0 : dims, behaviour.embeddingDrift);
      return { object: 'embedding', index, embedding: request.base64 ? base64Vector(v) : Array.from(v) };
    });
    const tokens = estimateTokens(request.promptChars);
    const body = JSON.stringify({
      object: 'list',
      data,
      model: request.model ?? this.name,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
    this.finish(ex, 200, body, fate, headers);
  }

  /** answerText, memoised: benchmarks and demos repeat prompts, and the text only depends on these two. */
  private answerFor(prompt: string, lengthFactor: number): string {
    if (prompt.length > ANSWER_CACHE_MAX_PROMPT) return answerText(this.name, prompt, lengthFactor);
    if (lengthFactor !== this.answersLengthFactor || this.answers.size >= ANSWER_CACHE_SIZE) {
      this.answers.clear();
      this.answersLengthFactor = lengthFactor;
    }
    let text = this.answers.get(prompt);
    if (text === undefined) {
      text = answerText(this.name, prompt, lengthFactor);
      this.answers.set(prompt, text);
    }
    return text;
  }

  // ---- admin -----------------------------------------------------------------------------------

  private adminUpdate(req: IncomingMessage, res: ServerResponse): void {
    readBody(
      req,
      ADMIN_MAX_BODY_BYTES,
      (body) => {
        const parsed = parseJson(body);
        if (!parsed.ok) return this.send(res, 400, BAD_JSON);
        try {
          this.current = Object.freeze(resolveBehaviourUpdate(this.current, parsed.value));
        } catch (err) {
          if (!(err instanceof BehaviourError)) throw err;
          return this.send(res, 400, errorBody(err.message, 'invalid_request_error', err.param, null));
        }
        this.send(res, 200, JSON.stringify(this.current));
      },
      () => this.send(res, 413, TOO_LARGE, { connection: 'close' }),
    );
  }

  // ---- plumbing --------------------------------------------------------------------------------

  private modelObject(): Record<string, unknown> {
    return { id: this.name, object: 'model', created: 1_700_000_000, owned_by: 'aviary-demo' };
  }

  private authorised(req: IncomingMessage): boolean {
    return this.expectedAuth === null || req.headers.authorization === this.expectedAuth;
  }

  private authError(req: IncomingMessage): string {
    return req.headers.authorization === undefined ? NO_API_KEY : WRONG_API_KEY;
  }

  private count(ex: Exchange, outcome: DemoLlmOutcome): void {
    if (ex.counted) return;
    ex.counted = true;
    this.byOutcome[outcome]++;
  }

  private release(ex: Exchange): void {
    if (ex.released) return;
    ex.released = true;
    this.inFlight--;
  }

  /** Ends a chat exchange: counted and released before the bytes go out, so stats are current on arrival. */
  private finish(
    ex: Exchange,
    status: number,
    body: string | Buffer,
    outcome: DemoLlmOutcome,
    headers?: OutgoingHttpHeaders,
  ): void {
    if (ex.closed) return;
    this.count(ex, outcome);
    this.release(ex);
    this.send(ex.res, status, body, headers);
  }

  private send(
    res: ServerResponse,
    status: number,
    body: string | Buffer,
    headers?: OutgoingHttpHeaders,
  ): void {
    const sse = headers !== undefined && headers['content-type'] !== undefined;
    res.writeHead(status, {
      ...(sse ? {} : { 'content-type': 'application/json' }),
      ...headers,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  private methodNotAllowed(req: IncomingMessage, res: ServerResponse, method: string, path: string): void {
    req.resume();
    this.send(
      res,
      405,
      errorBody(
        `Method ${method} is not allowed for ${path}.`,
        'invalid_request_error',
        null,
        'method_not_allowed',
      ),
    );
  }

  /** GET / DELETE /v1/responses/{id} and GET /v1/responses/{id}/input_items, of the responses it stored. */
  private storedResponse(req: IncomingMessage, res: ServerResponse, method: string, path: string): void {
    req.resume();
    if (!this.authorised(req)) return this.send(res, 401, this.authError(req));
    const [rawId, sub] = path.slice('/v1/responses/'.length).split('/');
    const id = safeDecode(rawId ?? '');
    const plan = this.storedResponses.get(id);
    if ((sub !== undefined && sub !== 'input_items') || (sub === 'input_items' && method !== 'GET'))
      return this.notFound(req, res, method, path);
    if (method !== 'GET' && method !== 'DELETE') return this.methodNotAllowed(req, res, method, path);
    if (!plan)
      return this.send(
        res,
        404,
        errorBody(`Response with id '${id}' not found.`, 'invalid_request_error', null, 'not_found'),
      );
    if (sub === 'input_items')
      return this.send(
        res,
        200,
        JSON.stringify({ object: 'list', data: [], first_id: null, last_id: null, has_more: false }),
      );
    if (method === 'DELETE') {
      this.storedResponses.delete(id);
      return this.send(res, 200, JSON.stringify({ id, object: 'response', deleted: true }));
    }
    const { head, tail } = renderJson(plan);
    return this.send(res, 200, head + tail);
  }

  /** The Conversations API (`rest`: the path after /v1/conversations). */
  private conversation(req: IncomingMessage, res: ServerResponse, method: string, rest: string): void {
    if (!this.authorised(req)) {
      req.resume();
      return this.send(res, 401, this.authError(req));
    }
    const answer = (body: unknown): void => {
      const a = this.conversations.handle(method, rest, body);
      this.send(res, a.status, JSON.stringify(a.body));
    };
    if (method !== 'POST') {
      req.resume();
      return answer(undefined);
    }
    readBody(
      req,
      this.maxBodyBytes,
      (body) => {
        if (body.length === 0) return answer(undefined);
        const parsed = parseJson(body);
        if (!parsed.ok) return this.send(res, 400, BAD_JSON);
        answer(parsed.value);
      },
      () => this.send(res, 413, TOO_LARGE, { connection: 'close' }),
    );
  }

  private notFound(req: IncomingMessage, res: ServerResponse, method: string, path: string): void {
    req.resume();
    this.send(
      res,
      404,
      errorBody(`Unknown request URL: ${method} ${path}.`, 'invalid_request_error', null, 'unknown_url'),
    );
  }
}

/** `text` in exactly `n` slices of about equal length (one per character when it is shorter). */
function evenSlices(text: string, n: number): string[] {
  const count = Math.min(n, text.length);
  const out: string[] = [];
  for (let i = 0; i < count; i++)
    out.push(text.slice(Math.floor((i * text.length) / count), Math.floor(((i + 1) * text.length) / count)));
  return out;
}

const PAD_SENTENCE = ' This sentence pads the answer to the size the demo behaviour asks for.';
let padCache = Buffer.alloc(0);

/** `chars` bytes of filler sentences (plain ASCII: the same in a JSON string), built once per size. */
function padding(chars: number): Buffer {
  if (padCache.length < chars)
    padCache = Buffer.from(PAD_SENTENCE.repeat(Math.ceil(chars / PAD_SENTENCE.length)));
  return padCache.subarray(0, chars);
}

/**
 * Starts a deterministic OpenAI-compatible model server. Whether a request refuses, errors, hangs… is
 * drawn from a hash of (seed, request body bytes, the server's chat request counter), so a given
 * sequence of requests gets the same answers from any server with the same name, seed and behaviour.
 * Concurrent requests are numbered in arrival order, which the network may shuffle.
 */
export async function startDemoLlm(options: DemoLlmOptions): Promise<DemoLlm> {
  if (options.name.trim() === '') throw new RangeError('demo-llm: name must not be empty');
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError(`demo-llm: invalid port ${port}`);
  // Validate the behaviour before binding a port.
  applyBehaviour(DEFAULT_BEHAVIOUR, options.behaviour ?? {});

  let instance: DemoLlmServer | null = null;
  const server = createServer((req, res) => instance?.handle(req, res));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  instance = new DemoLlmServer(options.name, server, options);
  return instance;
}
