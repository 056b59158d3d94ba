import { DomainError } from '../errors/domain-error';
import {
  retryBaseline,
  versionChanges,
  type VersionChanges,
  type VersionEvent,
  type VersionFacts,
  type VersionStatus,
} from './version-lifecycle';

/** Versions: v1 was stable when the rollout of v3 began; v2 became stable later (another rollout). */
const AS_CREATED: VersionFacts = { stableVersionId: 'v1', baselineVersionId: 'v1', candidateVersionId: 'v3' };
const STABLE_MOVED: VersionFacts = {
  stableVersionId: 'v2',
  baselineVersionId: 'v1',
  candidateVersionId: 'v3',
};
const COMPLETED: VersionFacts = { stableVersionId: 'v3', baselineVersionId: 'v1', candidateVersionId: 'v3' };

/** Applies the changes to a model's versions and checks what the database requires at every moment. */
function apply(
  versions: Record<string, VersionStatus>,
  changes: VersionChanges,
): { versions: Record<string, VersionStatus>; stable: string | null } {
  const after = { ...versions };
  for (const change of changes.statuses) {
    after[change.versionId] = change.status;
    // The unique index allows at most one stable version after each statement, not only at commit.
    expect(Object.values(after).filter((s) => s === 'stable').length).toBeLessThanOrEqual(1);
  }
  return { versions: after, stable: changes.stableVersionId };
}

describe(versionChanges.name, () => {
  // prettier-ignore
  const rows: Array<{ name: string; event: VersionEvent; facts: VersionFacts; before: Record<string, VersionStatus>; after: Record<string, VersionStatus>; stable: string | null }> = [
    { name: 'a candidate that starts serving is marked candidate', event: 'candidateServing', facts: AS_CREATED,
      before: { v1: 'stable', v3: 'registered' }, after: { v1: 'stable', v3: 'candidate' }, stable: null },
    { name: 'a rolled-back candidate is marked so, and the stable version stays', event: 'candidateRolledBack', facts: AS_CREATED,
      before: { v1: 'stable', v3: 'candidate' }, after: { v1: 'stable', v3: 'rolled_back' }, stable: null },
    { name: 'completion retires the stable version and makes the candidate stable', event: 'candidatePromoted', facts: AS_CREATED,
      before: { v1: 'stable', v3: 'candidate' }, after: { v1: 'retired', v3: 'stable' }, stable: 'v3' },
    { name: 'completion retires the current stable version, not a stale recorded baseline', event: 'candidatePromoted', facts: STABLE_MOVED,
      before: { v1: 'retired', v2: 'stable', v3: 'candidate' }, after: { v1: 'retired', v2: 'retired', v3: 'stable' }, stable: 'v3' },
    { name: 'a revert makes the previous version stable again and marks the reverted one rolled back', event: 'reverted', facts: COMPLETED,
      before: { v1: 'retired', v3: 'stable' }, after: { v1: 'stable', v3: 'rolled_back' }, stable: 'v1' },
  ];

  it.each(rows)('$name', ({ event, facts, before, after, stable }) => {
    const result = apply(before, versionChanges(event, facts));

    expect(result).toEqual({ versions: after, stable });
    expect(Object.values(result.versions).filter((s) => s === 'stable')).toHaveLength(1);
  });

  it('refuses to revert once another version is stable', () => {
    expect(() => versionChanges('reverted', STABLE_MOVED)).toThrow(DomainError);
  });
});

describe(retryBaseline.name, () => {
  // prettier-ignore
  it.each<[string, VersionFacts, { baselineVersionId: string; rebaselined: boolean }]>([
    ['keeps the baseline when it is still the stable version', AS_CREATED, { baselineVersionId: 'v1', rebaselined: false }],
    ['takes the current stable version when the stable version changed since', STABLE_MOVED, { baselineVersionId: 'v2', rebaselined: true }],
  ])('%s', (_name, facts, expected) => {
    expect(retryBaseline({ ...facts, candidateLabel: 'v3' })).toEqual(expected);
  });

  it('refuses a retry of a candidate that is the stable version now', () => {
    expect(() => retryBaseline({ ...COMPLETED, candidateLabel: 'v3' })).toThrow(/stable version now/);
  });
});
