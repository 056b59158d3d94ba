import type { ModelRouting } from './model-routing';

export interface PublishOptions {
  /**
   * Abandons the publish (a newer routing superseded it, or it took too long). A publisher stops
   * calling the flag source and rejects; what it wrote so far is converged by the next publish.
   */
  readonly signal?: AbortSignal;
}

/**
 * Pushes traffic splits to wherever routers read them (Unleash, or the control plane's built-in
 * Unleash-compatible endpoint). The database is the source of truth: publishers may be retried with
 * the same routing any number of times and must converge.
 */
export interface FlagPublisher {
  /** Human-readable name for logs and readiness ("unleash", "built-in"). */
  readonly name: string;
  publish(routing: ModelRouting, options?: PublishOptions): Promise<void>;
  /** Cheap reachability check for readiness. */
  check(): Promise<void>;
}

export const FLAG_PUBLISHER = Symbol('FLAG_PUBLISHER');
