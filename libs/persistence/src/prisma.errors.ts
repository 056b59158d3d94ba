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
