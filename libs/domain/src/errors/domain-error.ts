/** Stable error codes: one exception filter maps them to HTTP (409, 404, 400, ...). */
export const DOMAIN_ERROR_CODES = [
  'ILLEGAL_TRANSITION',
  'CONCURRENT_MODIFICATION',
  'ROLLOUT_ALREADY_ACTIVE',
  'VERSION_ROLLED_BACK',
  'NOT_FOUND',
  'CONFLICT',
  'INVALID_PLAN',
  'INVALID_GOLDEN_SET',
  /** Well-formed input that refers to something that is not there (e.g. a key scoped to an unknown model). */
  'INVALID_INPUT',
] as const;
export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class IllegalTransitionError extends DomainError {
  constructor(
    readonly phase: string,
    readonly event: string,
    reason: string,
  ) {
    super('ILLEGAL_TRANSITION', `cannot ${event} a rollout that is ${phase}: ${reason}`, { phase, event });
    this.name = 'IllegalTransitionError';
  }
}
