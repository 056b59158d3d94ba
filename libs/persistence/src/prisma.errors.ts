import { Prisma } from './generated/prisma/client';

/**
 * Whether `err` is a Prisma known request error, optionally with the given code (e.g. `P2025`,
 * record not found). Also recognises errors from another copy of the client by name, so a second
 * generated client or a jest module reset does not turn a conflict into a 500.
 */
export function isPrismaKnownError(err: unknown, code?: string): err is Prisma.PrismaClientKnownRequestError {
  const known =
    err instanceof Prisma.PrismaClientKnownRequestError ||
    (err instanceof Error &&
      err.name === 'PrismaClientKnownRequestError' &&
      typeof (err as { code?: unknown }).code === 'string');
  return known && (code === undefined || (err as Prisma.PrismaClientKnownRequestError).code === code);
}

/**
 * A unique constraint said no: Prisma's P2002, or SQLSTATE 23505 from a raw query (P2010) or from
 * pg itself. `constraint` narrows it to one index/constraint name (e.g.
 * `rollouts_one_active_per_model`, which Prisma's schema cannot express) or, where the driver
 * reports columns instead, one column name.
 */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  let violated = false;
  if (isPrismaKnownError(err, 'P2002')) violated = true;
  else if (isPrismaKnownError(err, 'P2010')) violated = driverCause(err)?.originalCode === '23505';
  else if (err instanceof Error && (err as { code?: unknown }).code === '23505') violated = true;
  if (!violated || constraint === undefined) return violated;
  return violatedTargets(err).includes(constraint);
}

interface DriverCause {
  readonly originalCode?: string;
  readonly constraint?: { readonly index?: string; readonly fields?: readonly string[] };
}

function driverCause(err: Prisma.PrismaClientKnownRequestError): DriverCause | undefined {
  const adapterError = (err.meta as { driverAdapterError?: { cause?: DriverCause } } | undefined)
    ?.driverAdapterError;
  return adapterError?.cause;
}

/** Names that identify what was violated: the index/constraint name and any reported fields. */
function violatedTargets(err: unknown): string[] {
  if (isPrismaKnownError(err)) {
    const cause = driverCause(err);
    const targets = [
      ...(cause?.constraint?.index ? [cause.constraint.index] : []),
      ...(cause?.constraint?.fields ?? []),
    ];
    // Without a driver adapter, P2002 carries meta.target (constraint name or field list).
    const target = (err.meta as { target?: unknown } | undefined)?.target;
    if (typeof target === 'string') targets.push(target);
    if (Array.isArray(target)) targets.push(...target.filter((t): t is string => typeof t === 'string'));
    return targets;
  }
  const pgConstraint = (err as { constraint?: unknown }).constraint;
  return typeof pgConstraint === 'string' ? [pgConstraint] : [];
}

const UNAVAILABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
const UNAVAILABLE_MESSAGE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|Connection terminated|connection timeout|timeout exceeded when trying to connect|Can't reach database|server closed the connection|DatabaseNotReachable|ConnectionClosed|SocketTimeout|Unable to start a transaction|Query read timeout|did not answer within/i;

/**
 * The database could not be reached (refused, reset, timed out, pool exhausted) as opposed to a
 * query it rejected: callers answer 503 and retry later instead of reporting a bug. Walks the
 * cause chain, since drivers and Prisma wrap one another.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    if (typeof e !== 'object') return false;
    const { name, code, message, cause, kind } = e as {
      name?: unknown;
      code?: unknown;
      message?: unknown;
      cause?: unknown;
      kind?: unknown;
    };
    if (name === 'PrismaClientInitializationError') return true;
    if (
      typeof code === 'string' &&
      (UNAVAILABLE_CODES.has(code) || /^(ECONN|ETIMEDOUT|EPIPE|57P0|08)/.test(code))
    )
      return true;
    if (typeof kind === 'string' && UNAVAILABLE_MESSAGE.test(kind)) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
    e = cause ?? (e as { meta?: { driverAdapterError?: unknown } }).meta?.driverAdapterError;
  }
  return false;
}
