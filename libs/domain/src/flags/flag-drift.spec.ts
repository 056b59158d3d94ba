import { describeDrift, driftAction, type DriftAction } from './flag-drift';
import type { FlagDriftKind } from './flag-publisher.port';

describe(driftAction.name, () => {
  // prettier-ignore
  it.each<[FlagDriftKind, boolean, DriftAction]>([
    ['disabled', true, 'rollback-then-publish'],
    ['archived', true, 'rollback-then-publish'],
    ['missing', true, 'rollback-then-publish'],
    ['candidate-disabled', true, 'rollback-then-publish'],
    ['edited', true, 'publish'],
    ['disabled', false, 'publish'],
    ['archived', false, 'publish'],
    ['missing', false, 'publish'],
    ['edited', false, 'publish'],
  ])('a flag %s while a rollout serves the candidate: %s → %s', (kind, serving, action) => {
    expect(driftAction(kind, serving)).toBe(action);
  });
});

describe(describeDrift.name, () => {
  it('names the flag, the source and who changed it', () => {
    expect(describeDrift('aviary.model.chat', 'unleash', 'disabled', 'alice@example.com')).toBe(
      'Flag aviary.model.chat was switched off in unleash by alice@example.com',
    );
    expect(describeDrift('aviary.model.chat', 'unleash', 'archived', null)).toBe(
      'Flag aviary.model.chat was archived in unleash',
    );
  });
});
