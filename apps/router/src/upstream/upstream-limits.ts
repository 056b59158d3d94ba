import type { UpstreamTarget } from '@aviary/domain';
import type { RouterConfig } from '../config/router.config';

export type LimitDefaults = Pick<
  RouterConfig,
  | 'AVIARY_UPSTREAM_MAX_RESPONSE_BYTES'
  | 'AVIARY_SHADOW_MAX_RESPONSE_BYTES'
  | 'AVIARY_UPSTREAM_TOTAL_TIMEOUT_MS'
>;

export interface CallLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly totalTimeoutMs?: number;
}

/**
 * How much of an upstream's answer the router reads, and for how long: the version's own limits
 * where it has them, the router's defaults otherwise. A stream the user reads has no total deadline
 * (only the version's idle timeout between chunks); a shadow copy, which nobody waits for, reads at
 * most the (smaller) shadow cap and always has one.
 */
export function callLimits(
  target: UpstreamTarget,
  d: LimitDefaults,
  purpose: 'serve' | 'serve-stream' | 'shadow',
  shadowTimeoutMs?: number,
): CallLimits {
  const maxBytes = target.maxResponseBytes ?? d.AVIARY_UPSTREAM_MAX_RESPONSE_BYTES;
  const totalTimeoutMs = target.totalTimeoutMs ?? d.AVIARY_UPSTREAM_TOTAL_TIMEOUT_MS;
  switch (purpose) {
    case 'serve':
      return { timeoutMs: target.timeoutMs, maxBytes, totalTimeoutMs };
    case 'serve-stream':
      return { timeoutMs: target.timeoutMs, maxBytes };
    case 'shadow':
      return {
        timeoutMs: Math.min(target.timeoutMs, shadowTimeoutMs ?? target.timeoutMs),
        maxBytes: Math.min(maxBytes, d.AVIARY_SHADOW_MAX_RESPONSE_BYTES),
        totalTimeoutMs,
      };
  }
}
