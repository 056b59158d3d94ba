import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { type FieldProblem, ProblemException } from './problem';
import { formatPath } from './zod-validation.pipe';

/** Deeper JSON than this is refused: nothing Aviary accepts nests more than a few levels. */
export const MAX_JSON_DEPTH = 64;

/**
 * JSON bodies are parsed after authentication, not before: the raw body is buffered by the
 * middleware (with its size limit) and parsed here, once the guard has let the caller in. So a
 * request without a token gets 401 whatever its body, and malformed JSON gets MALFORMED_JSON.
 */
@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<Request & { body?: unknown }>();
    if (Buffer.isBuffer(req.body)) req.body = parseJsonBody(req.body);
    return next.handle();
  }
}

/** Parses and vets a JSON body: 400 problem+json for malformed JSON or values no field can hold. */
export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new ProblemException(
      400,
      'MALFORMED_JSON',
      'Malformed JSON',
      `request body is not valid JSON (${err instanceof Error ? err.message : String(err)})`,
      [{ field: '', message: 'not valid JSON' }],
    );
  }
  const problem = vetJson(value);
  if (problem) throw ProblemException.validation([problem]);
  return value;
}

/**
 * The first value in a parsed JSON document that no Aviary field can hold: nesting deeper than
 * MAX_JSON_DEPTH, a NUL character (PostgreSQL's text and jsonb cannot store it), or a `__proto__`
 * key (silently dropped by object spreads and zod: refused rather than lost). Iterative, so a
 * 100,000-deep document cannot overflow the stack.
 */
export function vetJson(root: unknown): FieldProblem | null {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000'))
        return { field: formatPath(path), message: 'must not contain the NUL character (\\u0000)' };
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (path.length >= MAX_JSON_DEPTH)
      return { field: formatPath(path), message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
    if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push({ value: item, path: [...path, i] }));
      continue;
    }
    for (const key of Object.keys(value)) {
      if (key === '__proto__') return { field: formatPath([...path, key]), message: 'is not an allowed key' };
      if (key.includes('\u0000'))
        return { field: formatPath(path), message: 'has a key containing the NUL character (\\u0000)' };
      stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return null;
}

/** A path or query parameter with a NUL cannot name anything: 400 before it reaches the database. */
export function nulInUrl(url: string): boolean {
  if (url.includes('\u0000')) return true;
  try {
    return decodeURIComponent(url).includes('\u0000');
  } catch {
    return /%00/i.test(url);
  }
}
