import { ApiBody, ApiQuery } from '@nestjs/swagger';
import { z } from 'zod';

/** OpenAPI schema generated from the same zod schema that validates the request. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    unrepresentable: 'any',
    io: 'input',
  }) as Record<string, unknown>;
  delete json['$schema'];
  return json;
}

export const ZodApiBody = (schema: z.ZodType, description?: string) =>
  ApiBody({ schema: jsonSchemaOf(schema), ...(description ? { description } : {}) });

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
