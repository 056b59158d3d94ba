import type { IncomingMessage, ServerResponse } from 'node:http';
import { safeDecode } from '../http/path';
import type { ClientAuth } from '../auth/client-auth';
import { ClientGone } from '../http/client-gone';
import { sendAnswer, sendError } from '../http/openai-errors';
import type { RequestScope } from '../http/request-scope';
import { pipeStream, writeBuffered } from '../http/response-writer';
import type { FlagRouting } from '../routing/flag-routing';
import { type UpstreamClient, UpstreamError } from '../upstream/upstream-client';
import { failureAnswer } from '../upstream/upstream-errors';
import { callLimits, type LimitDefaults } from '../upstream/upstream-limits';
import { previousResponseIdOfEvent, previousResponseIdOfJson } from '../endpoints/responses';
import { type IdRename, renameInJson, StreamIdRenamer } from './id-renaming';
import type { ThreadTags } from './thread-tags';

export interface StoredResponsesDeps {
  readonly threads: ThreadTags;
  readonly flags: Pick<FlagRouting, 'forced'>;
  readonly upstream: Pick<UpstreamClient, 'call'>;
  readonly auth: Pick<ClientAuth, 'admit'> | null;
  readonly config: LimitDefaults;
}

export const STORED_RESPONSES_PREFIX = '/v1/responses/';
const PREFIX = 'resp_';
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
    const opened = this.d.threads.open(PREFIX, id);
    if (!opened?.origin)
      return sendError(
        res,
        scope,
        404,
        'invalid_request_error',
        opened
          ? `Aviary cannot open the id \`${id}\`: it was sealed by a router with another AVIARY_ROUTER_SECRET, or altered.`
          : `Aviary routes stored responses by the ids it hands out (resp_avr.…); \`${id}\` is not one, so it cannot tell which version stored it.`,
        { param: 'response_id', code: 'response_not_routable' },
      );
    const { model, versionId } = opened.origin;
    scope.model = model;
    if (scope.key && this.d.auth) {
      const denied = this.d.auth.admit(scope.key, model);
      if (denied) return sendAnswer(res, scope, denied);
    }
    const routing = this.d.flags.forced(model, versionId);
    if (!routing)
      return sendError(
        res,
        scope,
        404,
        'invalid_request_error',
        `The version that stored response \`${id}\` no longer serves the model \`${model}\` (rolled back or replaced), so its stored responses cannot be reached through Aviary.`,
        { param: 'response_id', code: 'response_version_gone' },
      );
    const target = routing.target;
    Object.assign(scope, { version: target.label, role: routing.role });
    const gone = new ClientGone();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    try {
      const up = await this.d.upstream.call(
        target,
        '/responses',
        '',
        Object.assign(
          callLimits(target, this.d.config, query.includes('stream=true') ? 'serve-stream' : 'serve'),
          {
            method: scope.method as 'GET' | 'DELETE' | 'POST',
            pathSuffix: `/${encodeURIComponent(opened.upstreamId)}${route}`,
            query,
            model,
            signal: gone,
          },
        ),
      );
      const headers = {
        'x-aviary-request-id': scope.requestId,
        'x-aviary-model-version': target.label,
        'x-aviary-role': routing.role,
      };
      // The response under the id the client asked with; the response it continues (stored by
      // the same version, in the same thread) under its tagged id, the one the client was given.
      const origin = opened.origin;
      const renames = (previous: string | null): IdRename[] => [
        [opened.upstreamId, id],
        ...(previous ? [[previous, this.d.threads.tag(PREFIX, previous, origin)] as const] : []),
      ];
      if (String(up.headers['content-type'] ?? '').includes('text/event-stream')) {
        const renamer = new StreamIdRenamer((data) =>
          renames(data === null ? null : previousResponseIdOfEvent(data)),
        );
        await pipeStream(res, up, headers, () => undefined, renamer);
        return;
      }
      const body = await up.body();
      writeBuffered(res, up, renameInJson(body, renames(previousResponseIdOfJson(body))), headers);
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      Object.assign(scope, { errorClass: err.errorClass, cause: err.causeCode });
      if (err.errorClass === 'client_aborted') {
        if (!res.destroyed) res.destroy();
        return;
      }
      const a = failureAnswer(err, model, target);
      sendError(res, scope, a.status, a.type, a.message, {
        code: a.code,
        ...(a.headers ? { headers: a.headers } : {}),
      });
    }
  }
}
