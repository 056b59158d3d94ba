import { parseDocument } from 'yaml';
import { CliError, EXIT } from './api-client';

/**
 * A rollout plan file for `aviary create -f`: the body of `POST /api/v1/rollouts` (model,
 * candidateVersion, plan, guardrails, reason, …) as YAML or JSON (JSON is YAML). The API validates
 * it and names any bad field.
 */
export function parsePlanFile(path: string, text: string | null): Record<string, unknown> {
  if (text === null) throw new CliError(`cannot read ${path}`, EXIT.usage);
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const [problem] = doc.errors;
  if (problem) {
    const where = problem.linePos?.[0];
    throw new CliError(
      `${path}${where ? `:${where.line}:${where.col}` : ''}: not valid YAML or JSON (${firstLine(problem.message)})`,
      EXIT.usage,
    );
  }
  const value: unknown = doc.toJS();
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CliError(
      `${path}: expected a mapping with model, candidateVersion and (optionally) plan, guardrails, reason`,
      EXIT.usage,
    );
  return value as Record<string, unknown>;
}

/** The parser's message without the position it repeats (the path:line:col says it). */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}
