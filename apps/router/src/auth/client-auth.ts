import type { IncomingHttpHeaders } from 'node:http';
import type { Counter } from 'prom-client';
import type { ErrorAnswer as FailureAnswer } from '../http/openai-errors';
import { KeyLimits } from './key-limits';
import type { RouterKey, RouterKeys } from './router-keys';

export type AuthFailure = 'missing' | 'invalid' | 'unavailable' | 'model' | 'rate_limit' | 'budget';

/** The key a client presented: OpenAI's `Authorization: Bearer`, or Azure-style `api-key` / `x-api-key`. */
export function presentedKey(headers: IncomingHttpHeaders): string | null {
  const auth = headers.authorization;
  if (auth) {
    const m = /^\s*bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1] ?? null;
  }
  const other = headers['api-key'] ?? headers['x-api-key'];
  const value = Array.isArray(other) ? other[0] : other;
  return value?.trim() || null;
}

const mask = (key: string) => `${key.slice(0, 8)}${'*'.repeat(4)}`;

/**
 * Client authentication for the router's /v1 API: a router key is required (unless
 * AVIARY_ROUTER_AUTH=off), it must be scoped to the model asked for, and within its limits.
 * Answers in OpenAI's shapes: 401 for a missing or unknown key, 403 for a model outside its scope,
 * 429 for its rate limit (rate_limit_exceeded) or its token budget (insufficient_quota).
 */
export class ClientAuth {
  constructor(
    private readonly keys: Pick<RouterKeys, 'lookup' | 'status'>,
    private readonly failures: Counter<'reason'>,
    private readonly limits = new KeyLimits(),
  ) {}

  /** Who is calling; a FailureAnswer when they may not call at all. */
  authenticate(headers: IncomingHttpHeaders): RouterKey | FailureAnswer {
    const presented = presentedKey(headers);
    if (!presented)
      return this.fail('missing', 401, 'invalid_request_error', 'missing_api_key', {
        message:
          "You didn't provide an API key. Send an Aviary router key in the Authorization header (Authorization: Bearer avr_…).",
      });
    const key = this.keys.lookup(presented);
    if (key) return key;
    if (!this.keys.status().ready)
      return this.fail('unavailable', 503, 'server_error', 'keys_unavailable', {
        message: 'Aviary has not received its API keys from the control plane yet; retry shortly.',
        headers: { 'retry-after': '2' },
      });
    return this.fail('invalid', 401, 'invalid_request_error', 'invalid_api_key', {
      message: `Incorrect or revoked API key provided: ${mask(presented)}.`,
    });
  }

  /** Whether this key may send this request for this model now; null when it may. */
  admit(key: RouterKey, model: string): FailureAnswer | null {
    if (!allows(key, model))
      return this.fail('model', 403, 'permission_error', 'model_not_allowed', {
        message: `The API key ${key.name} may not use the model \`${model}\`.`,
      });
    const wait = this.limits.take(key);
    if (wait > 0)
      return this.fail('rate_limit', 429, 'rate_limit_error', 'rate_limit_exceeded', {
        message: `Rate limit of ${key.requestsPerMinute} requests per minute reached for the API key ${key.name}.`,
        headers: { 'retry-after': String(wait) },
      });
    if (!this.limits.withinBudget(key))
      return this.fail('budget', 429, 'insufficient_quota', 'insufficient_quota', {
        message: `The API key ${key.name} has used its ${key.tokensPerDay} tokens for today (UTC).`,
        headers: { 'retry-after': String(KeyLimits.secondsToReset()) },
      });
    return null;
  }

  /** Counts an answer and its tokens against its key's daily budget (every router's, see KeyLimits). */
  charge(key: RouterKey, tokens: number): void {
    this.limits.charge(key, tokens);
  }

  private fail(
    reason: AuthFailure,
    status: number,
    type: FailureAnswer['type'],
    code: string,
    rest: { message: string; headers?: Record<string, string> },
  ): FailureAnswer {
    this.failures.inc({ reason });
    return { status, type, code, ...rest };
  }
}

export function allows(key: RouterKey | null, model: string): boolean {
  return !key?.models || key.models.has(model);
}

export function isFailure(v: RouterKey | FailureAnswer): v is FailureAnswer {
  return 'status' in v;
}
