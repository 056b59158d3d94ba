import type { IncomingMessage, ServerResponse } from 'node:http';
import { safeDecode } from '../http/path';
import { sendError } from '../http/openai-errors';
import type { RequestScope } from '../http/request-scope';
import { type ResponseLinks, responseLinksOfEvent, responseLinksOfJson } from '../endpoints/responses';
import type { IdRename } from './id-renaming';
import { CONVERSATION_PREFIX, RESPONSE_PREFIX as PREFIX } from './thread-tags';
import { forwardStored, type StoredObjectsDeps, versionOfTag } from './stored-forwarding';

export type StoredResponsesDeps = StoredObjectsDeps;

export const STORED_RESPONSES_PREFIX = '/v1/responses/';
/** Each route under /v1/responses/{id} and the methods it takes (the Responses API's). */
const ROUTES: Record<string, readonly ('GET' | 'DELETE' | 'POST')[]> = {
  '': ['GET', 'DELETE'],
  '/input_items': ['GET'],
  '/cancel': ['POST'],
};

/**
 * A stored response by its id (`GET`/`DELETE /v1/responses/{id}`, `GET …/input_items`,
 * `POST …/cancel`): sent to the version that stored it, which the id's seal names, so polling a
 * background response or reading its input works through a split. Not evidence: nothing is
 * generated here.
 */
export class StoredResponses {
  constructor(private readonly d: StoredResponsesDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    req.resume(); // no body is read on any of these routes
    const url = req.url ?? '';
    const query = url.includes('?') ? url.slice(url.indexOf('?')) : '';
    const rest = scope.path.slice(STORED_RESPONSES_PREFIX.length);
    const slash = rest.indexOf('/');
    const rawId = slash === -1 ? rest : rest.slice(0, slash);
    const route = slash === -1 ? '' : rest.slice(slash);
    const methods = ROUTES[route];
    if (!rawId || !methods)
      return sendError(
        res,
        scope,
        404,
        'invalid_request_error',
        `Aviary does not route ${scope.method} ${scope.path}: under /v1/responses/{id} it routes GET and DELETE, GET /input_items and POST /cancel.`,
        { code: 'unknown_url' },
      );
    if (!methods.includes(scope.method as 'GET'))
      return sendError(
        res,
        scope,
        405,
        'invalid_request_error',
        `/v1/responses/{id}${route} takes ${methods.join(' or ')}, not ${scope.method}.`,
        { code: 'method_not_allowed', headers: { allow: methods.join(', ') } },
      );
    const id = safeDecode(rawId);
    const found = versionOfTag(this.d, res, scope, {
      prefix: PREFIX,
      id,
      noun: 'response',
      param: 'response_id',
    });
    if (!found) return;
    const { opened, target, role } = found;
    // The response under the id the client asked with; the response it continues and its
    // conversation (held by the same version, in the same thread) under the tagged ids the client
    // was given.
    const renames = (links: ResponseLinks): IdRename[] => {
      const out: IdRename[] = [[opened.upstreamId, id]];
      if (links.previous)
        out.push([links.previous, this.d.threads.tag(PREFIX, links.previous, opened.origin)]);
      if (links.conversation)
        out.push([
          links.conversation,
          this.d.threads.tag(CONVERSATION_PREFIX, links.conversation, opened.origin),
        ]);
      return out;
    };
    await forwardStored(this.d, res, scope, {
      target,
      role,
      model: opened.origin.model,
      method: scope.method as 'GET' | 'DELETE' | 'POST',
      upstreamPath: '/responses',
      pathSuffix: `/${encodeURIComponent(opened.upstreamId)}${route}`,
      query,
      payload: '',
      renames: (answer) =>
        renames(
          'json' in answer ? responseLinksOfJson(answer.json) : responseLinksOfEvent(answer.firstEvent),
        ),
    });
  }
}
