import type { IncomingMessage, ServerResponse } from 'node:http';
import { TOPICS, eventKey, type FeedbackEvent } from '@aviary/contracts';
import type { EventPublisher } from '@aviary/domain';
import type { RouterMetrics } from '../evidence/router-metrics';
import { sendError } from '../http/openai-errors';
import { BodyTooLargeError, readBody } from '../http/read-body';
import type { RequestScope } from '../http/request-scope';
import type { RequestIds } from './request-id';

const MAX_AGE_S = 30 * 24 * 3600;

/**
 * POST /v1/feedback { request_id, rating: "up" | "down", comment? }. The version that served the
 * request is read from the signed request id: no lookup, any replica can take it.
 */
export class FeedbackHandler {
  constructor(private readonly d: { ids: RequestIds; events: EventPublisher; metrics: RouterMetrics }) {}

  async handle(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, 16_384)).toString('utf8'));
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        return sendError(res, scope, 413, 'invalid_request_error', 'Feedback bodies are limited to 16 KiB.');
      return sendError(
        res,
        scope,
        400,
        'invalid_request_error',
        'We could not parse the JSON body of your request.',
      );
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return sendError(res, scope, 400, 'invalid_request_error', 'The request body must be a JSON object.');
    const { request_id: requestId, rating, comment } = body as Record<string, unknown>;
    if (typeof requestId !== 'string' || requestId.length === 0)
      return sendError(
        res,
        scope,
        400,
        'invalid_request_error',
        "'request_id' must be the x-aviary-request-id of a response.",
        { param: 'request_id' },
      );
    if (rating !== 'up' && rating !== 'down')
      return sendError(res, scope, 400, 'invalid_request_error', '\'rating\' must be "up" or "down".', {
        param: 'rating',
      });
    if (comment !== undefined && comment !== null && (typeof comment !== 'string' || comment.length > 2000)) {
      return sendError(
        res,
        scope,
        400,
        'invalid_request_error',
        "'comment' must be a string of at most 2000 characters.",
        { param: 'comment' },
      );
    }
    const served = this.d.ids.verify(requestId);
    if (!served)
      return sendError(
        res,
        scope,
        400,
        'invalid_request_error',
        "'request_id' is not a request id issued by this Aviary.",
        { param: 'request_id', code: 'unknown_request_id' },
      );
    if (Date.now() / 1000 - served.at > MAX_AGE_S)
      return sendError(res, scope, 400, 'invalid_request_error', "'request_id' is older than 30 days.", {
        param: 'request_id',
        code: 'request_id_expired',
      });
    const event: FeedbackEvent = {
      schema: 'aviary.feedback.v1',
      requestId,
      at: new Date().toISOString(),
      model: served.model,
      versionId: served.versionId,
      role: served.role,
      rolloutId: served.rolloutId,
      revision: served.revision,
      rating,
      comment: typeof comment === 'string' ? comment : null,
      // Ratings count for the answer's time and user cluster (the guardrails' feedback window and variance).
      servedAt: new Date(served.at * 1000).toISOString(),
      ...(served.stickinessBucket !== undefined ? { stickinessBucket: served.stickinessBucket } : {}),
    };
    // A rating of a forced or cohort-routed answer is kept out of the evidence like the answer itself.
    if (!served.notEvidence) this.d.events.publish(TOPICS.feedback, eventKey(event), event);
    this.d.metrics.feedback.inc({
      model: served.model,
      version: served.versionLabel,
      role: served.role,
      rating,
    });
    const out = JSON.stringify({
      status: 'accepted',
      request_id: requestId,
      model: served.model,
      role: served.role,
    });
    res.writeHead(202, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(out),
      'x-aviary-request-id': scope.requestId,
    });
    res.end(out);
  }
}
