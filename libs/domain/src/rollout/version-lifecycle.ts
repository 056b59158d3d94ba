import { DomainError } from '../errors/domain-error';

/** A model version's place in its model's life. Exactly one version of a model is `stable`. */
export type VersionStatus = 'registered' | 'candidate' | 'stable' | 'retired' | 'rolled_back';

/** The versions a rollout decision touches, as the database holds them now. */
export interface VersionFacts {
  /** The model's stable version now: the truth, whatever the rollout recorded when it was created. */
  readonly stableVersionId: string;
  /** The baseline the rollout recorded (stale if the stable version changed since). */
  readonly baselineVersionId: string;
  readonly candidateVersionId: string;
}

export interface StatusChange {
  readonly versionId: string;
  readonly status: VersionStatus;
}

/**
 * Database writes, in order: the old stable version is retired before the new one is marked, because
 * at most one version of a model may be stable at any moment (a unique index).
 */
export interface VersionChanges {
  readonly statuses: readonly StatusChange[];
  /** The model's new stable version, or null when it does not change. */
  readonly stableVersionId: string | null;
}

export type VersionEvent = 'candidateServing' | 'candidateRolledBack' | 'candidatePromoted' | 'reverted';

/**
 * What a lifecycle event does to the model's versions. Completion retires the model's *current*
 * stable version (not the rollout's recorded baseline, which may be stale), so one version stays
 * stable; a revert makes the rollout's baseline stable again and marks the reverted version rolled
 * back so it is never promoted again silently.
 */
export function versionChanges(event: VersionEvent, facts: VersionFacts): VersionChanges {
  const { stableVersionId, baselineVersionId, candidateVersionId } = facts;
  switch (event) {
    case 'candidateServing':
      return { statuses: [{ versionId: candidateVersionId, status: 'candidate' }], stableVersionId: null };
    case 'candidateRolledBack':
      return { statuses: [{ versionId: candidateVersionId, status: 'rolled_back' }], stableVersionId: null };
    case 'candidatePromoted':
      return {
        statuses: [
          ...(stableVersionId !== candidateVersionId
            ? [{ versionId: stableVersionId, status: 'retired' as const }]
            : []),
          { versionId: candidateVersionId, status: 'stable' },
        ],
        stableVersionId: candidateVersionId,
      };
    case 'reverted':
      if (stableVersionId !== candidateVersionId) {
        throw new DomainError(
          'CONFLICT',
          'only the version the rollout made stable can be reverted, and another version is stable now',
        );
      }
      return {
        statuses: [
          { versionId: candidateVersionId, status: 'rolled_back' },
          { versionId: baselineVersionId, status: 'stable' },
        ],
        stableVersionId: baselineVersionId,
      };
  }
}

export interface RetryFacts extends VersionFacts {
  readonly candidateLabel: string;
}

export interface RetryBaseline {
  readonly baselineVersionId: string;
  /** True when the rollout's recorded baseline was stale and is replaced by the current stable version. */
  readonly rebaselined: boolean;
}

/**
 * A retried rollout compares the candidate with the model's stable version *now*: the one users get
 * when it rolls back again. The recorded baseline may have been retired by another rollout meanwhile.
 */
export function retryBaseline(facts: RetryFacts): RetryBaseline {
  if (facts.candidateVersionId === facts.stableVersionId) {
    throw new DomainError(
      'CONFLICT',
      `version ${facts.candidateLabel} is the model's stable version now; there is nothing to roll out`,
      { field: 'candidateVersion' },
    );
  }
  return {
    baselineVersionId: facts.stableVersionId,
    rebaselined: facts.stableVersionId !== facts.baselineVersionId,
  };
}
