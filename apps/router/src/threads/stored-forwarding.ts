import type { ServerResponse } from 'node:http';
import type { ServingRole } from '@aviary/contracts';
import type { UpstreamTarget } from '@aviary/domain';
import { ClientGone } from '../http/client-gone';
import { sendAnswer, sendError } from '../http/openai-errors';
import type { RequestScope } from '../http/request-scope';
import { pipeStream, writeBuffered } from '../http/response-writer';
import type { ClientAuth } from '../auth/client-auth';
import type { FlagRouting } from '../routing/flag-routing';
import { type UpstreamClient, UpstreamError } from '../upstream/upstream-client';
import { failureAnswer } from '../upstream/upstream-errors';
import { callLimits, type LimitDefaults } from '../upstream/upstream-limits';
import { type IdRename, renameInJson, StreamIdRenamer } from './id-renaming';
import type { OpenedTag, ThreadOrigin, ThreadTags } from './thread-tags';

/** What a handler of stored objects (responses, conversations) needs to reach their version. */
export interface StoredObjectsDeps {
  readonly threads: ThreadTags;
  readonly flags: Pick<FlagRouting, 'forced' | 'resolve' | 'models' | 'status'>;
  readonly upstream: Pick<UpstreamClient, 'call'>;
  readonly auth: Pick<ClientAuth, 'admit'> | null;
  readonly config: LimitDefaults;
}

/** One call to the version that holds a stored object, and how its ids are renamed on the way back. */
export interface StoredCall {
  readonly target: UpstreamTarget;
  readonly role: ServingRole;
  readonly model: string;
  readonly method: 'GET' | 'DELETE' | 'POST';
  /** The API path at the upstream (`/responses`, `/conversations`). */
  readonly upstreamPath: string;
  /** The object's upstream id and sub-resource (`/conv_1/items`), already encoded; '' for a create. */
  readonly pathSuffix: string;
  /** The client's query string (`?…`), or ''. */
  readonly query: string;
  /** The JSON body for a POST; '' for none. */
  readonly payload: string;
  /** Renames for the answer, given what the answer itself says (JSON body, or a stream's first event). */
  readonly renames: (answer: { json: Buffer } | { firstEvent: string | null }) => IdRename[];
}

/**
 * Checks the key's model scope, then opens a tagged id and finds the version its seal names. Answers
 * the client itself (and returns null) when the id is not one Aviary handed out, when the version no
 * longer serves the model, or when the key may not use it.
 */
export function versionOfTag(
  d: StoredObjectsDeps,
  res: ServerResponse,
  scope: RequestScope,
  what: { readonly prefix: string; readonly id: string; readonly noun: string; readonly param: string },
): { opened: OpenedTag & { origin: ThreadOrigin }; target: UpstreamTarget; role: ServingRole } | null {
  const opened = d.threads.open(what.prefix, what.id);
  if (!opened?.origin) {
    sendError(
      res,
      scope,
      404,
      'invalid_request_error',
      opened
        ? `Aviary cannot open the id \`${what.id}\`: it was sealed by a router with another AVIARY_ROUTER_SECRET, or altered.`
        : `Aviary routes stored ${what.noun}s by the ids it hands out (${what.prefix}avr.…); \`${what.id}\` is not one, so it cannot tell which version stored it.`,
      { param: what.param, code: `${what.noun}_not_routable` },
    );
    return null;
  }
  const { model, versionId } = opened.origin;
  scope.model = model;
  if (scope.key && d.auth) {
    const denied = d.auth.admit(scope.key, model);
    if (denied) {
      sendAnswer(res, scope, denied);
      return null;
    }
  }
  const routing = d.flags.forced(model, versionId);
  if (!routing) {
    sendError(
      res,
      scope,
      404,
      'invalid_request_error',
      `The version that stored ${what.noun} \`${what.id}\` no longer serves the model \`${model}\` (rolled back or replaced), so it cannot be reached through Aviary.`,
      { param: what.param, code: `${what.noun}_version_gone` },
    );
    return null;
  }
  return {
    opened: opened as OpenedTag & { origin: ThreadOrigin },
    target: routing.target,
    role: routing.role,
  };
}

/**
 * Sends one call to the version holding a stored object and passes its answer on, JSON or stream,
 * with ids renamed; an upstream failure answers in OpenAI's error shape. Not evidence: nothing is
 * generated here.
 */
export async function forwardStored(
  d: StoredObjectsDeps,
  res: ServerResponse,
  scope: RequestScope,
  call: StoredCall,
): Promise<void> {
  const { target, role, model } = call;
  Object.assign(scope, { version: target.label, role });
  const gone = new ClientGone();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  try {
    const up = await d.upstream.call(
      target,
      call.upstreamPath,
      call.payload,
      Object.assign(
        callLimits(target, d.config, call.query.includes('stream=true') ? 'serve-stream' : 'serve'),
        {
          method: call.method,
          pathSuffix: call.pathSuffix,
          query: call.query,
          model,
          signal: gone,
        },
      ),
    );
    const headers = {
      'x-aviary-request-id': scope.requestId,
      'x-aviary-model-version': target.label,
      'x-aviary-role': role,
    };
    if (String(up.headers['content-type'] ?? '').includes('text/event-stream')) {
      const renamer = new StreamIdRenamer((firstEvent) => call.renames({ firstEvent }));
      await pipeStream(res, up, headers, () => undefined, renamer);
      return;
    }
    const body = await up.body();
    writeBuffered(res, up, renameInJson(body, call.renames({ json: body })), headers);
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
