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
  /** A field names something that does not exist or may not be used there (400 naming the field). */
  'INVALID_REFERENCE',
  /** An action that needs a reason in this state (approving a gate); `issues` names the field. */
  'REASON_REQUIRED',
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
