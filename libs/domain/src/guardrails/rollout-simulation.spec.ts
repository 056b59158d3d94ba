import {
  GUARDRAIL_SCENARIOS,
  ISOLATED,
  REALISTIC_TRAFFIC,
  scenarioFor,
  simulateScenario,
  simulateScenarioRun,
  wilson,
  type RolloutPolicy,
  type ScenarioSummary,
} from './rollout-simulation';

/**
 * The fast subset of the realistic simulation suite (the whole suite: `npm run sim:guardrails`,
 * figures in docs/guardrail-statistics.md): whole rollouts of the default plan on simulated real
 * traffic, judged by the real state machine, window rules and statistics at a look every 15
 * minutes. Seeded, so every figure here is reproducible; the run counts are small, so the
 * assertions are about what each run does, not about rates (the full suite measures those).
 */
const SEED = 20261201;
const spec = (id: string) => {
  const s = GUARDRAIL_SCENARIOS.find((x) => x.id === id);
  if (!s) throw new Error(`no scenario ${id}`);
  return s;
};
const run = (id: string, policy: RolloutPolicy, runs: number): ScenarioSummary =>
  simulateScenario(scenarioFor(spec(id), policy), runs, SEED);

const HOUR = 3600;

describe('guardrails on simulated real traffic (fast subset)', () => {
  it('takes an identical candidate through the whole default plan on realistic traffic', () => {
    const s = run('aa-realistic', 'rollout-wide', 6);
    expect(s.rolledBack.count).toBe(0);
    expect(s.completed.count).toBe(6);
    // Shadow 3 days, then 48 h at 5%, 20%, 50% (the harm bound is shown there), 100% and the bake.
    expect(s.medianSecondsToComplete).toBeGreaterThanOrEqual(312 * HOUR);
    expect(s.medianSecondsToComplete).toBeLessThan(400 * HOUR);
  });

  it('rolls back a candidate refusing 1.5x past the tolerance within the plan’s time, never at 100%', () => {
    const s = run('harm-refusalRate-1.5', 'rollout-wide', 5);
    expect(s.trueRelativeChange).toBeCloseTo(0.3, 9);
    expect(s.reachedFull.count).toBe(0);
    expect(s.rolledBackInPlanTime.count).toBe(5);
  });

  it('rolls back a candidate with 2.5x the thumbs-down tolerance before 100% as well', () => {
    const s = run('harm-thumbsDownRate-2.5', 'rollout-wide', 3);
    expect(s.reachedFull.count).toBe(0);
    expect(s.rolledBack.count).toBe(3);
  });

  it('reproduces the old statistics’ failure: late thumbs-up made the 100% step roll identical candidates back', () => {
    const before = run('aa-late-feedback', 'legacy', 3);
    expect(before.rolledBackByGuardrails.count).toBeGreaterThanOrEqual(2);
    const now = run('aa-late-feedback', 'rollout-wide', 3);
    expect(now.rolledBack.count).toBe(0);
  });

  it('looks at every tick: a run reports each look, and the design effect of sticky users', () => {
    let looks = 0;
    let refusalDesignEffect = 0;
    simulateScenarioRun(
      {
        ...scenarioFor(spec('aa-sticky'), 'rollout-wide'),
        onLook: ({ report }) => {
          looks += 1;
          const r = report.results.find((x) => x.metric === 'refusalRate');
          refusalDesignEffect = r?.evidence?.designEffect ?? refusalDesignEffect;
        },
      },
      SEED,
      0,
    );
    expect(looks).toBeGreaterThan((312 * HOUR) / 900);
    expect(refusalDesignEffect).toBeGreaterThan(1);
  });

  it('keeps the traffic models the docs describe', () => {
    expect(REALISTIC_TRAFFIC).toMatchObject({
      requestsPer48h: 200_000,
      errors: { mean: 0.001 },
      refusals: { mean: 0.005 },
      rated: { mean: 0.02 },
    });
    expect(ISOLATED.independent.unstickyShare).toBe(1);
    expect(wilson(0, 300).upper).toBeCloseTo(0.0126, 3);
  });
});
