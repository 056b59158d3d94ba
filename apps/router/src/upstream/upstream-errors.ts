import type { ErrorClass } from '@aviary/contracts';
import type { UpstreamTarget } from '@aviary/domain';
import type { ErrorAnswer } from '../http/openai-errors';
import { QueueFullError } from './concurrency-limiter';
import { RESPONSE_TOO_LARGE, TOTAL_TIMEOUT, UPSTREAM_NOT_ALLOWED, UpstreamError } from './upstream-client';

/** What the user is told when no upstream answer can be passed on. */
export type FailureAnswer = ErrorAnswer;

/**
 * The one table from an upstream failure to the router's answer (fastify-reply-from's gateway
 * errors): unreachable or failing → 502 (503 passed on), too slow → 504, saturated → 429. The
 * upstream's own 4xx answers are not failures: they are passed on as they came.
 */
export function failureAnswer(
  err: UpstreamError | QueueFullError,
  model: string,
  target: UpstreamTarget,
): FailureAnswer {
  if (err instanceof QueueFullError)
    return {
      status: 429,
      type: 'rate_limit_error',
      code: 'upstream_saturated',
      message: `The model \`${model}\` is at capacity (${err.message}); retry shortly.`,
      headers: { 'retry-after': '1' },
    };
  switch (err.errorClass) {
    case 'timeout':
      return {
        status: 504,
        type: 'timeout_error',
        code: 'upstream_timeout',
        message:
          err.causeCode === TOTAL_TIMEOUT
            ? `The model \`${model}\` did not finish its answer in time (${err.message}).`
            : `The model \`${model}\` did not answer within ${target.timeoutMs} ms.`,
      };
    case 'invalid_response':
      return {
        status: 502,
        type: 'upstream_error',
        code:
          err.causeCode === RESPONSE_TOO_LARGE ? 'upstream_response_too_large' : 'upstream_invalid_response',
        message: `The model \`${model}\` gave an answer Aviary cannot pass on: ${err.message}.`,
      };
    case 'upstream_5xx':
      return {
        status: err.status === 503 ? 503 : 502,
        type: 'upstream_error',
        code: 'upstream_error',
        message: `The model \`${model}\` failed (upstream answered ${err.status ?? 'an error'}).`,
      };
    default:
      if (err.causeCode === UPSTREAM_NOT_ALLOWED)
        return {
          status: 502,
          type: 'upstream_error',
          code: 'upstream_not_allowed',
          message: `The model \`${model}\` is not served: ${err.message}.`,
        };
      return {
        status: 502,
        type: 'upstream_error',
        code: 'upstream_unreachable',
        message: `The model \`${model}\` could not be reached: ${err.message}.`,
      };
  }
}

/** The status an outcome event records for a failed attempt (the upstream's own, when it sent one). */
export function failureStatus(err: UpstreamError): number {
  return err.status ?? STATUS_BY_CLASS[err.errorClass];
}

const STATUS_BY_CLASS: Record<ErrorClass, number> = {
  connect: 502,
  timeout: 504,
  upstream_5xx: 502,
  upstream_4xx: 400,
  invalid_response: 502,
  client_aborted: 499,
  shed: 429,
};

/** Failures before the first byte that a candidate may be retried on the baseline for. */
export const FALLBACK_CLASSES: ReadonlySet<ErrorClass> = new Set(['connect', 'timeout', 'upstream_5xx']);
