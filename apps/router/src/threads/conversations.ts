import type { IncomingMessage, ServerResponse } from 'node:http';
import { safeDecode } from '../http/path';
import {
  sendAnswer,
  sendBodyTooLarge,
  sendError,
  sendForceRefused,
  sendUnrouted,
} from '../http/openai-errors';
import { BodyTooLargeError, readBody } from '../http/read-body';
import type { RequestScope } from '../http/request-scope';
import { cohortProperties, mayForceVersion } from '../routing/request-context';
import { stickinessKey } from '../routing/stickiness';
import { forEndpoint } from '../serving/proxy-handler';
import type { IdRename } from './id-renaming';
import { forwardStored, type StoredObjectsDeps, versionOfTag } from './stored-forwarding';
import { CONVERSATION_PREFIX } from './thread-tags';

export interface ConversationsDeps extends StoredObjectsDeps {
  readonly maxBodyBytes: number;
  /** The debug header that forces a version (not a cohort property), and who may send it. */
  readonly forceHeader: string;
  readonly forceVersionKeys: readonly string[];
}

export const CONVERSATIONS_PATH = '/v1/conversations';
/** The header that names the model a new conversation is for (the Conversations API names none). */
export const MODEL_HEADER = 'x-aviary-model';

type Method = 'GET' | 'POST' | 'DELETE';
/** The routes under /v1/conversations/{id} and the methods each takes (the Conversations API's). */
const ROUTES: ReadonlyArray<{ readonly match: RegExp; readonly methods: readonly Method[] }> = [
  { match: /^$/, methods: ['GET', 'POST', 'DELETE'] },
  { match: /^\/items$/, methods: ['GET', 'POST'] },
  { match: /^\/items\/[^/]+$/, methods: ['GET', 'DELETE'] },
];
const ROUTED =
  'Aviary routes POST /v1/conversations; GET, POST and DELETE /v1/conversations/{id}; GET and POST …/items; GET and DELETE …/items/{item_id}.';

/**
 * The Conversations API. A conversation is an object one upstream holds, and a response that names
 * it can only be answered there, so it belongs to a version from its creation: `POST
 * /v1/conversations` is routed by the model's split like a first turn (the model from the
 * `x-aviary-model` header, or the only one the key or the router serves), and the id handed out is
 * tagged with that origin (`conv_avr.<seal>.<upstream id>`). Every call on it, and every response in
 * it, goes to that version while it serves the model (see ProxyHandler.threadOf). Not evidence: nothing is generated here.
 */
export class Conversations {
  constructor(private readonly d: ConversationsDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const url = req.url ?? '';
    const query = url.includes('?') ? url.slice(url.indexOf('?')) : '';
    const rest = scope.path.slice(CONVERSATIONS_PATH.length);
    if (rest === '' || rest === '/') {
      if (scope.method === 'POST') return this.create(req, res, scope, query);
      req.resume();
      return this.refuseMethod(res, scope, CONVERSATIONS_PATH, ['POST']);
    }
    if (!rest.startsWith('/')) return this.unknown(req, res, scope);
    const slash = rest.indexOf('/', 1);
    const rawId = slash === -1 ? rest.slice(1) : rest.slice(1, slash);
    const route = upstreamRoute(slash === -1 ? '' : rest.slice(slash));
    const methods = route === null ? undefined : ROUTES.find((r) => r.match.test(route))?.methods;
    if (!rawId || !methods || route === null) return this.unknown(req, res, scope);
    if (!methods.includes(scope.method as Method)) {
      req.resume();
      return this.refuseMethod(
        res,
        scope,
        `${CONVERSATIONS_PATH}/{id}${route.replace(/^\/items\/[^/]+$/, '/items/{item_id}')}`,
        methods,
      );
    }
    const payload = await this.body(req, res, scope);
    if (payload === null) return;
    const id = safeDecode(rawId);
    const found = versionOfTag(this.d, res, scope, {
      prefix: CONVERSATION_PREFIX,
      id,
      noun: 'conversation',
      param: 'conversation_id',
    });
    if (!found) return;
    const { opened, target, role } = found;
    const renames: IdRename[] = [[opened.upstreamId, id]];
    await forwardStored(this.d, res, scope, {
      target,
      role,
      model: opened.origin.model,
      method: scope.method as Method,
      upstreamPath: '/conversations',
      pathSuffix: `/${encodeURIComponent(opened.upstreamId)}${route}`,
      query,
      payload,
      renames: () => renames,
    });
  }

  /** POST /v1/conversations: routed like a thread's first turn, on the caller's stickiness key. */
  private async create(
    req: IncomingMessage,
    res: ServerResponse,
    scope: RequestScope,
    query: string,
  ): Promise<void> {
    const payload = await this.body(req, res, scope);
    if (payload === null) return;
    const model = this.modelOf(req, scope);
    if (typeof model !== 'string')
      return sendError(res, scope, 400, 'invalid_request_error', model.problem, {
        param: MODEL_HEADER,
        code: 'model_required',
      });
    scope.model = model;
    if (scope.key && this.d.auth) {
      const denied = this.d.auth.admit(scope.key, model);
      if (denied) return sendAnswer(res, scope, denied);
    }
    const sticky = stickinessKey(req.headers, null);
    // A conversation forced onto a version (an eval harness) is held there, and its turns follow.
    const force = req.headers[this.d.forceHeader];
    if (force !== undefined && !mayForceVersion(this.d.forceVersionKeys, scope.key))
      return sendForceRefused(res, scope, this.d.forceHeader);
    const resolved =
      force !== undefined
        ? this.d.flags.forced(model, String(force))
        : this.d.flags.resolve(model, sticky.key, cohortProperties(req.headers, null, this.d.forceHeader));
    if (!resolved && force !== undefined)
      return sendError(
        res,
        scope,
        400,
        'invalid_request_error',
        `The model \`${model}\` has no version \`${String(force)}\` to force.`,
        { param: this.d.forceHeader, code: 'unknown_version' },
      );
    if (!resolved) return sendUnrouted(res, scope, this.d.flags.status().ready, model, MODEL_HEADER);
    // A conversation is used by the Responses API: it is created where a response can be answered.
    const routing = forEndpoint(resolved, 'responses');
    if (!routing)
      return sendError(
        res,
        scope,
        404,
        'invalid_request_error',
        `The model \`${model}\` does not serve /v1/responses (its version ${resolved.target.label} declares other endpoints), so it holds no conversations.`,
        { param: MODEL_HEADER, code: 'endpoint_not_served' },
      );
    const origin = { key: sticky.key, model, versionId: routing.target.versionId };
    await forwardStored(this.d, res, scope, {
      target: routing.target,
      role: routing.role,
      model,
      method: 'POST',
      upstreamPath: '/conversations',
      pathSuffix: '',
      query,
      payload,
      renames: (answer) => {
        const id = 'json' in answer ? conversationIdOfJson(answer.json) : null;
        return id ? [[id, this.d.threads.tag(CONVERSATION_PREFIX, id, origin)]] : [];
      },
    });
  }

  /**
   * The model a new conversation is for: the header, else the one model the key may use, else the
   * one model the router routes; otherwise what to do about it.
   */
  private modelOf(req: IncomingMessage, scope: RequestScope): string | { problem: string } {
    const header = req.headers[MODEL_HEADER];
    const named = Array.isArray(header) ? header[0] : header;
    if (named !== undefined && named.trim() !== '') return named.trim();
    const scoped = scope.key?.models;
    if (scoped && scoped.size === 1) return [...scoped][0]!;
    const routed = this.d.flags.models();
    if (routed.length === 1) return routed[0]!;
    return {
      problem:
        `A conversation is held by one version of one model, and POST /v1/conversations names no model: ` +
        `send the model in the ${MODEL_HEADER} header (openai-python: extra_headers={"${MODEL_HEADER}": "<model>"}; ` +
        `openai-node: { headers: { '${MODEL_HEADER}': '<model>' } }). This router routes ${routed.length === 0 ? 'no model yet' : routed.map((m) => `\`${m}\``).join(', ')}.`,
    };
  }

  /** The request body as the upstream is to get it ('' for none); null once a 413 was answered. */
  private async body(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<string | null> {
    if (scope.method !== 'POST') {
      req.resume();
      return '';
    }
    try {
      return (await readBody(req, this.d.maxBodyBytes)).toString('utf8');
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      sendBodyTooLarge(res, scope, err.limit);
      return null;
    }
  }

  private unknown(req: IncomingMessage, res: ServerResponse, scope: RequestScope): void {
    req.resume();
    sendError(
      res,
      scope,
      404,
      'invalid_request_error',
      `Aviary does not route ${scope.method} ${scope.path}: ${ROUTED}`,
      {
        code: 'unknown_url',
      },
    );
  }

  private refuseMethod(
    res: ServerResponse,
    scope: RequestScope,
    route: string,
    methods: readonly Method[],
  ): void {
    sendError(
      res,
      scope,
      405,
      'invalid_request_error',
      `${route} takes ${methods.join(' or ')}, not ${scope.method}.`,
      { code: 'method_not_allowed', headers: { allow: methods.join(', ') } },
    );
  }
}

/**
 * The sub-resource of a conversation as the upstream is to get it: the item id decoded and encoded
 * again, so that no dot segment or encoded slash reaches the upstream's path (where a proxy that
 * normalises paths would turn `items/..` into the conversation itself). Null for one that is not an
 * item id.
 */
function upstreamRoute(route: string): string | null {
  const item = /^\/items\/([^/]+)$/.exec(route);
  if (!item) return route;
  const id = safeDecode(item[1]!);
  if (id === '' || id === '.' || id === '..' || id.includes('/')) return null;
  return `/items/${encodeURIComponent(id)}`;
}

/** A conversation object's id (`{"id":"conv_…","object":"conversation",…}`), or null. */
export function conversationIdOfJson(body: Buffer): string | null {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { id?: unknown; object?: unknown };
    return parsed !== null &&
      typeof parsed === 'object' &&
      parsed.object === 'conversation' &&
      typeof parsed.id === 'string' &&
      parsed.id !== ''
      ? parsed.id
      : null;
  } catch {
    return null;
  }
}
