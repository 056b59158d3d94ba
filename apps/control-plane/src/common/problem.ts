import { STATUS_CODES } from 'node:http';
import { HttpException } from '@nestjs/common';
import type { ClientErrorAnswer, ClientErrorKind } from '@aviary/http';

/** One invalid field in a request: `field` is a JSON path into the body or query (`plan.steps[2].weight`). */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** RFC 9457 problem details. `code` is the stable machine-readable cause. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly instance?: string;
  readonly errors?: readonly FieldProblem[];
  readonly [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** An error that already knows its HTTP shape. */
export class ProblemException extends HttpException {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly errors?: readonly FieldProblem[],
    readonly extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(detail, httpStatus);
  }

  static validation(errors: readonly FieldProblem[], where = 'request body'): ProblemException {
    const first = errors[0];
    const detail = first
      ? `${where}: ${first.field ? `${first.field}: ` : ''}${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`
      : `${where} is invalid`;
    return new ProblemException(400, 'VALIDATION_FAILED', 'Invalid request', detail, errors);
  }

  static notFound(what: string, id: string): ProblemException {
    return new ProblemException(
      404,
      'NOT_FOUND',
      'Not found',
      `${what} ${JSON.stringify(id)} does not exist`,
    );
  }
}

/** The problem+json body of a ProblemException. */
export function problemBody(exception: ProblemException, instance: string): ProblemDetails {
  return {
    type: problemType(exception.code),
    title: exception.title,
    status: exception.httpStatus,
    detail: exception.detail,
    code: exception.code,
    instance,
    ...(exception.errors ? { errors: exception.errors } : {}),
    ...exception.extensions,
  };
}

export function problemType(code: string): string {
  return `https://aviary.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`;
}

/**
 * The control plane's answer to what node:http could not parse (see `answerClientErrors`): problem
 * details like every other refusal; headers over the limit name the field `headers`.
 */
export function clientErrorProblem(kind: ClientErrorKind): ClientErrorAnswer {
  const code = kind.code.toUpperCase();
  const problem: ProblemDetails = {
    type: problemType(code),
    title: STATUS_CODES[kind.status] ?? 'Bad request',
    status: kind.status,
    detail: kind.message,
    code,
    ...(kind.status === 431 ? { errors: [{ field: 'headers', message: kind.message }] } : {}),
  };
  return { contentType: PROBLEM_CONTENT_TYPE, body: JSON.stringify(problem) };
}
