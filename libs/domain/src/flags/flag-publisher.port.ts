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

/**
 * How a flag in the flag source differs from what Aviary published, as a read-back finds it:
 * - `disabled`: the flag's environment was switched off;
 * - `archived` / `missing`: the flag was archived, or is gone;
 * - `candidate-disabled`: the candidate's strategy was disabled or removed while the candidate serves;
 * - `edited`: anything else (weights, constraints, extra strategies).
 */
export const FLAG_DRIFT_KINDS = ['disabled', 'archived', 'missing', 'candidate-disabled', 'edited'] as const;
export type FlagDriftKind = (typeof FLAG_DRIFT_KINDS)[number];

export interface FlagObservation {
  /** Null when the flag source holds exactly what Aviary published. */
  readonly drift: FlagDriftKind | null;
  /** Plain words for the log and the status page. */
  readonly detail: string;
  /** Who made the change in the flag source, when it says (Unleash's event log); null otherwise. */
  readonly changedBy: string | null;
}

/** A flag source that can be read back (Unleash). The built-in source is the database itself. */
export interface FlagInspector {
  inspect(routing: ModelRouting, options?: PublishOptions): Promise<FlagObservation>;
}

export function isFlagInspector(publisher: FlagPublisher): publisher is FlagPublisher & FlagInspector {
  return typeof (publisher as Partial<FlagInspector>).inspect === 'function';
}
