import { compressedPlan, initialState, transition, type RolloutState } from '@aviary/domain';
import { buildRouting, type VersionForRouting } from './routing.builder';

const v = (id: string): VersionForRouting => ({
  id,
  label: id,
  upstreamBaseUrl: `http://${id}:8000/v1`,
  upstreamModel: `${id}-model`,
  timeoutMs: 30_000,
  apiKeyRef: null,
  credential: null,
});
const model = { id: 'm1', name: 'support-chat' };
const actor = { name: 'test', automatic: false };
const t0 = new Date('2026-11-30T00:00:00Z');

/** A rollout of the compressed default plan (shadow, 5, 20, 50, 100, bake) after `promotions` promotes. */
function stateAfter(promotions: number): RolloutState {
  let s = transition(initialState(compressedPlan(60)), { type: 'start', actor }, t0).state;
  for (let i = 0; i < promotions; i++) s = transition(s, { type: 'promote', actor }, t0).state;
  return s;
}

describe(buildRouting.name, () => {
  // prettier-ignore
  const rows: Array<{ name: string; promotions: number | null; weight: number; candidate: boolean; shadow: boolean }> = [
    { name: 'no rollout: everyone on the stable version', promotions: null, weight: 0, candidate: false, shadow: false },
    { name: 'shadow step: nobody served by the candidate, baseline traffic mirrored', promotions: 0, weight: 0, candidate: false, shadow: true },
    { name: 'first canary step: 5%', promotions: 1, weight: 5, candidate: true, shadow: false },
    { name: '50% step', promotions: 3, weight: 50, candidate: true, shadow: false },
    { name: 'bake: candidate serves all but the 5% holdback, baseline still named for instant rollback', promotions: 5, weight: 95, candidate: true, shadow: false },
  ];

  it.each(rows)('$name', ({ promotions, weight, candidate, shadow }) => {
    const routing = buildRouting({
      model,
      stable: v('base'),
      rollout:
        promotions === null
          ? null
          : { id: 'r1', state: stateAfter(promotions), baseline: v('base'), candidate: v('cand') },
      revision: 7,
    });
    expect(routing.candidateWeight).toBe(weight);
    expect(routing.candidate?.versionId ?? null).toBe(candidate ? 'cand' : null);
    expect(routing.shadow?.target.versionId ?? null).toBe(shadow ? 'cand' : null);
    expect(routing.baseline.versionId).toBe('base');
    expect(routing.revision).toBe(7);
  });

  it('names the candidate for a cohort step at weight 0 and carries the cohort', () => {
    const cohort = { header: { name: 'x-aviary-cohort', value: 'internal' } };
    const plan = {
      steps: [
        {
          type: 'setWeight' as const,
          weight: 0,
          minDurationSeconds: 60,
          maxDurationSeconds: 3600,
          onDeadline: 'rollback' as const,
          cohort,
        },
        { type: 'setWeight' as const, weight: 100, minDurationSeconds: 60 },
      ],
    };
    const state = transition(initialState(plan), { type: 'start', actor }, t0).state;
    const routing = buildRouting({
      model,
      stable: v('base'),
      rollout: { id: 'r1', state, baseline: v('base'), candidate: v('cand') },
      revision: 1,
    });

    expect(routing.candidateWeight).toBe(0);
    expect(routing.candidate?.versionId).toBe('cand');
    expect(routing.cohort).toEqual(cohort);
  });

  it('keeps the stickiness group constant for the whole rollout', () => {
    const groups = [1, 2, 3].map(
      (p) =>
        buildRouting({
          model,
          stable: v('base'),
          rollout: { id: 'r1', state: stateAfter(p), baseline: v('base'), candidate: v('cand') },
          revision: p,
        }).stickinessGroup,
    );
    expect(new Set(groups).size).toBe(1);
  });

  it('carries the upstream details a router needs, and only the name of the API key', () => {
    const routing = buildRouting({
      model,
      stable: { ...v('base'), apiKeyRef: 'BASE_KEY', credential: { authScheme: 'api-key' } },
      rollout: null,
      revision: 1,
    });
    expect(routing.baseline).toEqual({
      versionId: 'base',
      label: 'base',
      baseUrl: 'http://base:8000/v1',
      upstreamModel: 'base-model',
      timeoutMs: 30_000,
      apiKeyRef: 'BASE_KEY',
      authScheme: 'api-key',
      endpoints: null,
      maxResponseBytes: null,
      totalTimeoutMs: null,
    });
  });

  it('carries the endpoints a version serves and its answer limits', () => {
    const routing = buildRouting({
      model,
      stable: { ...v('base'), endpoints: ['embeddings'], maxResponseBytes: 65_536, totalTimeoutMs: 9_000 },
      rollout: null,
      revision: 1,
    });
    expect(routing.baseline).toMatchObject({
      endpoints: ['embeddings'],
      maxResponseBytes: 65_536,
      totalTimeoutMs: 9_000,
    });
  });

  it('carries a priced version’s prices, and nothing for a version without them', () => {
    const priced = buildRouting({
      model,
      stable: { ...v('base'), inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 },
      rollout: null,
      revision: 1,
    });
    expect(priced.baseline.prices).toEqual({ inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 });
    const plain = buildRouting({ model, stable: v('base'), rollout: null, revision: 1 });
    expect(plain.baseline).not.toHaveProperty('prices');
  });
});
