import { type PipeTransform } from '@nestjs/common';
import { type z } from 'zod';
import { type FieldProblem, ProblemException } from './problem';

/** Formats zod's issue path the way people write it: `plan.steps[2].weight`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    return acc ? `${acc}.${String(key)}` : String(key);
  }, '');
}

export function zodProblems(error: z.ZodError): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    // Unknown keys are reported once per key so the field is named, not the parent object.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: formatPath([...issue.path, key]),
        message: 'unknown field',
      }));
    }
    return [{ field: formatPath(issue.path), message: issue.message }];
  });
}

/** Validates and types a body or query with a zod schema; failures become 400 problem+json. */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(
    private readonly schema: S,
    private readonly where = 'request body',
  ) {}

  transform(value: unknown): z.output<S> {
    const result = this.schema.safeParse(value ?? (this.where === 'request body' ? undefined : {}));
    if (result.success) return result.data;
    throw ProblemException.validation(zodProblems(result.error), this.where);
  }
}
