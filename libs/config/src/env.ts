import { z } from 'zod';

/** Thrown at boot when the environment is invalid; the message names every bad variable. */
export class EnvValidationError extends Error {
  constructor(
    readonly app: string,
    readonly problems: readonly string[],
  ) {
    super(`${app}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EnvValidationError';
  }
}

/**
 * Validates `env` against a zod object whose keys are env var names. Empty strings count as unset so
 * `FOO=` in a compose file or Helm values behaves like a missing variable.
 */
export function parseEnv<S extends z.ZodObject>(
  app: string,
  schema: S,
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
): z.output<S> {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') cleaned[key] = value.trim();
  }
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const got = cleaned[String(issue.path[0])];
    if (got === undefined && issue.path.length === 1 && issue.code !== 'custom')
      return `${name}: is required but not set`;
    return `${name}: ${issue.message}${got === undefined ? '' : ` (got ${JSON.stringify(redact(name, got))})`}`;
  });
  throw new EnvValidationError(app, problems);
}

function redact(name: string, value: string): string {
  if (/TOKEN|SECRET|PASSWORD|KEY/i.test(name)) return '***';
  if (/URL/i.test(name)) return value.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
  return value;
}

/** Common field builders, so every app words its env errors the same way. */
export const envField = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  positiveInt: (fallback: number, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().positive().max(max).default(fallback),
  url: () => z.url({ message: 'must be an absolute URL' }),
  postgresUrl: () => z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL'),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  csv: () =>
    z.string().transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    ),
};

/**
 * Runs a config loader for a process's `main`: a bad environment prints the message that names the
 * variables and exits with EX_CONFIG (78); anything else is rethrown.
 */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof EnvValidationError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
