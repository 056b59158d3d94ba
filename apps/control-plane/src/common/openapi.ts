import { ApiBody, ApiQuery, ApiResponse, type OpenAPIObject, type OperationObject } from '@nestjs/swagger';
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE } from './problem';

/**
 * OpenAPI schema generated from a zod schema: a request's (`input`, the same schema that validates
 * it) or a response's (`output`, what the presenter returns once serialised).
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    unrepresentable: 'any',
    io,
  }) as Record<string, unknown>;
  delete json['$schema'];
  return json;
}

export const ZodApiBody = (schema: z.ZodType, description?: string) =>
  ApiBody({ schema: jsonSchemaOf(schema), ...(description ? { description } : {}) });

/** The success answer of an operation, documented from the zod schema of what it returns. */
export const ZodApiResponse = (schema: z.ZodType, description: string, status = 200) =>
  ApiResponse({ status, description, schema: jsonSchemaOf(schema, 'output') });

export function ZodApiQuery(schema: z.ZodObject): MethodDecorator {
  const decorators = Object.entries(schema.shape).map(([name, field]) =>
    ApiQuery({
      name,
      required: !(field as z.ZodType).safeParse(undefined).success,
      schema: jsonSchemaOf(field as z.ZodType),
    }),
  );
  return (target, key, descriptor) => {
    for (const d of decorators) d(target, key, descriptor);
  };
}

/** A list answer: `{ items: [...] }`. */
export const itemsOf = (item: z.ZodType) => z.object({ items: z.array(item) });

/** Dates leave the API as ISO 8601 strings. */
export const isoDate = z.iso.datetime();

/** RFC 9457 problem details, as every error of the admin API is sent (problem-details.filter.ts). */
export const problemSchema = z
  .object({
    type: z.string().describe('A URI naming the problem, e.g. https://aviary.dev/problems/not-found'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().describe('What went wrong, in words'),
    code: z.string().describe('Stable machine-readable cause: VALIDATION_FAILED, NOT_FOUND, CONFLICT, …'),
    instance: z.string().optional().describe('The request path'),
    errors: z
      .array(
        z.object({ field: z.string().describe('JSON path into the body or query'), message: z.string() }),
      )
      .optional()
      .describe('400: every invalid field'),
    errorId: z.string().optional().describe('500: the id the log has the cause under'),
  })
  .loose();

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const MUTATIONS = new Set<string>(['post', 'put', 'patch', 'delete']);

/** Which error answers an operation can give, from its shape (the filter maps every error the same way). */
function errorResponses(path: string, method: string, op: OperationObject): Record<number, string> {
  const errors: Record<number, string> = {};
  if ((op.parameters?.length ?? 0) > 0 || op.requestBody)
    errors[400] = 'Invalid request: `errors` names every invalid field';
  if (op.security && op.security.length > 0) {
    errors[401] = 'No token, or a token that is unknown or revoked';
    errors[403] = "The token's role is too weak for this operation (viewer < operator < admin)";
  }
  if (path.includes('{')) errors[404] = 'Nothing has this id or name';
  if (MUTATIONS.has(method))
    errors[409] =
      'Conflicts with the current state (a duplicate name, an illegal transition, a changed ETag)';
  if (op.requestBody) errors[413] = 'The body is larger than the limit';
  errors[500] = 'An unexpected error: `errorId` is in the log';
  errors[503] = 'The database is unreachable: retry (Retry-After)';
  return errors;
}

/**
 * Completes the generated document: the problem+json answers of every operation (Nest's decorators
 * only say what succeeds), under one shared `Problem` schema.
 */
export function documentProblemResponses(document: OpenAPIObject): OpenAPIObject {
  document.components ??= {};
  document.components.schemas = {
    ...document.components.schemas,
    Problem: jsonSchemaOf(problemSchema, 'output'),
  };
  for (const [path, item] of Object.entries(document.paths))
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      for (const [status, description] of Object.entries(errorResponses(path, method, op)))
        op.responses[status] ??= {
          description,
          content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } },
        };
    }
  return document;
}
