import type { RouterKey } from '../auth/router-keys';
import type { RequestTrace } from './request-trace';
import { randomToken } from './random-token';

/** A request id for an answer that carries no attribution (errors before routing): `avy-<random>`. */
export function unsignedRequestId(): string {
  return `avy-${randomToken(9)}`;
}

/**
 * What the router learns about one HTTP request while serving it, for the access log and the
 * `x-aviary-request-id` of every answer (errors included). Filled in as the request goes along.
 */
export class RequestScope {
  /** performance.now() at arrival. */
  readonly t0 = performance.now();
  private requestIdValue: string | null = null;
  endpoint: string | null = null;
  model: string | null = null;
  version: string | null = null;
  role: string | null = null;
  /** The router key the request came with (null when authentication is off). */
  key: RouterKey | null = null;
  stream: boolean | null = null;
  errorClass: string | null = null;
  /** undici's or the system's code behind an upstream failure. */
  cause: string | null = null;
  /** The request's spans; null when tracing is off. */
  trace: RequestTrace | null = null;

  constructor(
    readonly method: string,
    readonly path: string,
  ) {}

  /** The request id of the answer: the signed one once issued, else an unsigned one made now. */
  get requestId(): string {
    return (this.requestIdValue ??= unsignedRequestId());
  }

  set requestId(id: string) {
    this.requestIdValue = id;
  }

  get keyId(): string | null {
    return this.key?.id ?? null;
  }

  /** What a log line about this request carries to find it beside its access-log line and trace. */
  logFields(): Record<string, string> {
    const fields: Record<string, string> = { requestId: this.requestId };
    if (this.model !== null) fields['model'] = this.model;
    if (this.trace) fields['traceId'] = this.trace.traceId;
    return fields;
  }
}
