import type { FlagDriftKind } from './flag-publisher.port';

/**
 * What Aviary does about a flag changed outside it. The database stays the source of truth, so the
 * flag is always published again; and an Unleash user stopping a rollout (switching the flag off,
 * archiving it, disabling the candidate's strategy) means "everyone on the baseline": Aviary records
 * it as a rollback by that user rather than undoing it. It is never an outage: routers serve the
 * model's last known baseline meanwhile.
 */
export type DriftAction =
  /** Roll the active rollout back (by the Unleash user), then publish the baseline-only split. */
  | 'rollback-then-publish'
  /** Publish Aviary's split again over the edit. */
  | 'publish';

export function driftAction(kind: FlagDriftKind, rolloutServesCandidate: boolean): DriftAction {
  const killSwitch = kind !== 'edited';
  return killSwitch && rolloutServesCandidate ? 'rollback-then-publish' : 'publish';
}

const WHAT: Record<FlagDriftKind, string> = {
  disabled: 'switched off',
  archived: 'archived',
  missing: 'deleted',
  'candidate-disabled': 'changed: the candidate strategy was disabled or removed',
  edited: 'edited',
};

/** "Flag aviary.model.x was switched off in unleash by alice". */
export function describeDrift(
  flag: string,
  source: string,
  kind: FlagDriftKind,
  changedBy: string | null,
): string {
  return `Flag ${flag} was ${WHAT[kind]} in ${source}${changedBy ? ` by ${changedBy}` : ''}`;
}
