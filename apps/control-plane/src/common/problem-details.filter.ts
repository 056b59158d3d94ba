import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { DomainError, type DomainErrorCode } from '@aviary/domain';
import { isDatabaseUnavailable } from '@aviary/persistence';
import { allowedMethods } from './allowed-methods';
import {
  PROBLEM_CONTENT_TYPE,
  ProblemException,
  problemBody,
  type ProblemDetails,
  problemType,
} from './problem';

const DOMAIN_STATUS: Record<DomainErrorCode, number> = {
  ILLEGAL_TRANSITION: 409,
  CONCURRENT_MODIFICATION: 409,
  ROLLOUT_ALREADY_ACTIVE: 409,
  VERSION_ROLLED_BACK: 409,
  CONFLICT: 409,
  NOT_FOUND: 404,
  INVALID_PLAN: 400,
  INVALID_GOLDEN_SET: 400,
  INVALID_REFERENCE: 400,
  REASON_REQUIRED: 400,
};

interface BodyParserError {
  type: string;
  status?: number;
  limit?: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { type?: unknown }).type === 'string' &&
    typeof (err as { status?: unknown }).status === 'number'
  );
}

/** The one place errors become HTTP: problem+json for everything, no stack traces, 500s carry an id. */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const problem = this.toProblem(exception, req);
    if (res.headersSent) return;
    if (problem.status === 503) res.setHeader('Retry-After', '5');
    if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    if (problem.status === 405 && Array.isArray(problem['allowed']))
      res.setHeader('Allow', (problem['allowed'] as string[]).join(', '));
    res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  }

  private toProblem(exception: unknown, req: Request): ProblemDetails {
    const instance = req.originalUrl;
    if (exception instanceof ProblemException) return problemBody(exception, instance);
    if (exception instanceof DomainError) {
      const status = DOMAIN_STATUS[exception.code];
      const issues = exception.details['issues'];
      return {
        type: problemType(exception.code),
        title: status === 404 ? 'Not found' : status === 400 ? 'Invalid request' : 'Conflict',
        status,
        detail: exception.message,
        code: exception.code,
        instance,
        ...(Array.isArray(issues) ? { errors: issues as ProblemDetails['errors'] } : {}),
        ...Object.fromEntries(Object.entries(exception.details).filter(([k]) => k !== 'issues')),
      };
    }
    if (isBodyParserError(exception)) return this.bodyParserProblem(exception, instance);
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      // No route for this method: when the path has routes for others, it is a 405 naming them.
      const allowed = status === 404 ? allowedMethods(req) : [];
      if (allowed.length > 0 && !allowed.includes(req.method)) {
        return {
          type: problemType('METHOD_NOT_ALLOWED'),
          title: 'Method not allowed',
          status: 405,
          detail: `${req.path} takes ${allowed.join(', ')}, not ${req.method}`,
          code: 'METHOD_NOT_ALLOWED',
          instance,
          allowed,
        };
      }
      const code =
        status === 404
          ? 'NOT_FOUND'
          : status === 401
            ? 'UNAUTHENTICATED'
            : status === 403
              ? 'FORBIDDEN'
              : `HTTP_${status}`;
      return {
        type: problemType(code),
        title: exception.name.replace(/Exception$/, '').replace(/([a-z])([A-Z])/g, '$1 $2'),
        status,
        detail: status === 404 ? `no route for ${req.method} ${req.path}` : exception.message,
        code,
        instance,
      };
    }
    if (isDatabaseUnavailable(exception)) {
      this.logger.warn(
        `database unavailable on ${req.method} ${req.path}: ${exception instanceof Error ? exception.message : String(exception)}`,
      );
      return {
        type: problemType('DATABASE_UNAVAILABLE'),
        title: 'Service unavailable',
        status: 503,
        detail: 'the database is unreachable; retry shortly',
        code: 'DATABASE_UNAVAILABLE',
        instance,
      };
    }
    const errorId = randomUUID();
    this.logger.error(
      `error ${errorId} on ${req.method} ${req.path}`,
      exception instanceof Error ? exception.stack : String(exception),
    );
    return {
      type: problemType('INTERNAL'),
      title: 'Internal error',
      status: 500,
      detail: `an unexpected error occurred; quote error id ${errorId} when reporting it`,
      code: 'INTERNAL',
      errorId,
      instance,
    };
  }

  private bodyParserProblem(err: BodyParserError, instance: string): ProblemDetails {
    switch (err.type) {
      case 'entity.parse.failed':
        return {
          type: problemType('MALFORMED_JSON'),
          title: 'Malformed JSON',
          status: 400,
          code: 'MALFORMED_JSON',
          detail: 'request body is not valid JSON',
          instance,
          errors: [{ field: '', message: 'not valid JSON' }],
        };
      case 'entity.too.large':
        return {
          type: problemType('BODY_TOO_LARGE'),
          title: 'Body too large',
          status: 413,
          code: 'BODY_TOO_LARGE',
          detail: `request body exceeds ${err.limit ?? 'the'} byte limit`,
          instance,
        };
      default:
        return {
          type: problemType('UNREADABLE_BODY'),
          title: 'Unreadable body',
          status: err.status && err.status >= 400 && err.status < 500 ? err.status : 400,
          code: 'UNREADABLE_BODY',
          detail: `request body could not be read (${err.type})`,
          instance,
        };
    }
  }
}
