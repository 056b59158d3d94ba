/** A routing that cannot be expressed as an Unleash flag (bad weight, unsafe flag name, invalid target). */
export class RoutingEncodingError extends Error {
  override readonly name = 'RoutingEncodingError';

  constructor(
    readonly model: string,
    readonly field: string,
    detail: string,
  ) {
    super(`cannot encode routing for model "${model}": ${field} ${detail}`);
  }
}

export interface FlagPublishErrorDetails {
  readonly method: string;
  readonly url: string;
  /** HTTP status, or undefined when no response arrived (timeout, refused connection). */
  readonly status?: number;
  /** The first few hundred characters of the response body. */
  readonly bodyExcerpt?: string;
  readonly cause?: unknown;
}

/** A flag source refused or did not answer a write. Safe to retry: publishing converges. */
export class FlagPublishError extends Error {
  override readonly name = 'FlagPublishError';
  readonly method: string;
  readonly url: string;
  readonly status: number | undefined;
  readonly bodyExcerpt: string | undefined;

  constructor(message: string, details: FlagPublishErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.method = details.method;
    this.url = details.url;
    this.status = details.status;
    this.bodyExcerpt = details.bodyExcerpt;
  }
}
