import { applyBehaviour, BehaviourError, BEHAVIOURS, resolveBehaviourUpdate } from './behaviour';
import { decide, requestState } from './determinism';

describe('behaviour updates', () => {
  it('merges partials, replaces with presets, and applies overrides after a preset', () => {
    const slower = applyBehaviour(BEHAVIOURS.fine, { latencyMs: 100, refusalRate: 0.1 });
    expect(slower).toEqual({ ...BEHAVIOURS.fine, latencyMs: 100, refusalRate: 0.1 });
    expect(applyBehaviour(slower, 'errors')).toEqual(BEHAVIOURS.errors);
    expect(resolveBehaviourUpdate(slower, { preset: 'slower', errorRate: 0.1 })).toEqual({
      ...BEHAVIOURS.slower,
      errorRate: 0.1,
    });
    expect(resolveBehaviourUpdate({ ...slower, hangRate: 0.5 }, { hangRate: null })).toMatchObject({
      hangRate: 0,
    });
    expect(applyBehaviour(slower, { errorRate: undefined })).toEqual(slower);
  });

  it.each([
    [{ refusalRate: 1.5 }, 'refusalRate'],
    [{ latencyMs: -1 }, 'latencyMs'],
    [{ errorRate: '0.1' }, 'errorRate'],
    [{ refusalRate: null }, 'refusalRate'],
    [{ surprise: 1 }, 'surprise'],
    [{ preset: 'nope' }, 'preset'],
    [[], null],
  ])('rejects %j', (input, param) => {
    expect(() => resolveBehaviourUpdate(BEHAVIOURS.fine, input)).toThrow(BehaviourError);
    try {
      resolveBehaviourUpdate(BEHAVIOURS.fine, input);
    } catch (err) {
      expect((err as BehaviourError).param).toBe(param);
    }
  });

  it('keeps every preset complete and valid', () => {
    for (const preset of Object.values(BEHAVIOURS))
      expect(applyBehaviour(BEHAVIOURS.fine, preset)).toEqual(preset);
  });
});

describe('decide', () => {
  const states = Array.from({ length: 2000 }, (_, i) => requestState(1, 12345, i + 1));

  it('hits each rate and keeps earlier failures when a rate rises', () => {
    const refusedAt = (rate: number): Set<number> =>
      new Set(
        states.flatMap((s, i) =>
          decide({ ...BEHAVIOURS.fine, refusalRate: rate }, s, false).fate === 'refusal' ? [i] : [],
        ),
      );
    const low = refusedAt(0.2);
    const high = refusedAt(0.5);
    expect(low.size / states.length).toBeCloseTo(0.2, 1);
    expect(high.size / states.length).toBeCloseTo(0.5, 1);
    for (const i of low) expect(high.has(i)).toBe(true);
  });

  it('applies brokenJson only to JSON requests and jitters latency within bounds', () => {
    const b = { ...BEHAVIOURS.fine, brokenJsonRate: 1, latencyMs: 100, latencyJitterMs: 20 };
    for (const s of states.slice(0, 200)) {
      expect(decide(b, s, false).fate).toBe('ok');
      const d = decide(b, s, true);
      expect(d.fate).toBe('brokenJson');
      expect(d.delayMs).toBeGreaterThanOrEqual(80);
      expect(d.delayMs).toBeLessThanOrEqual(120);
    }
  });
});
