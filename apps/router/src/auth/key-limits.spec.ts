import { KeyLimits } from './key-limits';
import { routerKey } from '../../test/proxy-fakes';
import type { RouterKey } from './router-keys';

const key = (over: Partial<RouterKey> = {}): RouterKey => routerKey({ tokensPerDay: 100, ...over });
const NOON = Date.UTC(2026, 11, 2, 12);
const TODAY = '2026-12-02';

describe(KeyLimits.name, () => {
  it('renews a daily budget at UTC midnight', () => {
    const limits = new KeyLimits();
    const k = key({ tokensPerDay: 10 });
    const late = Date.UTC(2026, 11, 1, 23, 59);
    limits.charge(k, 10, late);
    expect(limits.withinBudget(k, late)).toBe(false);
    expect(limits.withinBudget(k, late + 2 * 60_000)).toBe(true);
    expect(KeyLimits.secondsToReset(Date.UTC(2026, 11, 1, 23, 59, 0))).toBe(60);
  });

  it('reports what it counted once, by key and day, with a fresh report id each time', () => {
    const limits = new KeyLimits();
    limits.charge(key(), 30, NOON);
    limits.charge(key(), 12, NOON);
    limits.charge(key({ id: 'k2', tokensPerDay: null }), 5, NOON);
    const first = limits.takeReport();
    expect(first.usage).toEqual([
      { keyId: 'k1', day: TODAY, tokens: 42, requests: 2 },
      { keyId: 'k2', day: TODAY, tokens: 5, requests: 1 },
    ]);
    limits.settle(first.reportId, { day: TODAY, usage: { k1: { tokens: 42 }, k2: { tokens: 5 } } });
    const second = limits.takeReport();
    expect(second.usage).toEqual([]);
    expect(second.reportId).not.toBe(first.reportId);
  });

  it('sends an unanswered report again as it is, and counts it until it is answered', () => {
    const limits = new KeyLimits();
    limits.charge(key(), 60, NOON);
    const sent = limits.takeReport();
    limits.charge(key(), 10, NOON); // while the report is out
    expect(limits.takeReport()).toBe(sent); // no answer yet: the same id again
    expect(limits.usedToday('k1', NOON)).toBe(70);
    limits.settle(sent.reportId, { day: TODAY, usage: { k1: { tokens: 60 } } });
    expect(limits.usedToday('k1', NOON)).toBe(70); // 60 in the totals + 10 not yet reported
    expect(limits.takeReport().usage).toEqual([{ keyId: 'k1', day: TODAY, tokens: 10, requests: 1 }]);
  });

  it.each([
    ['this router alone', 40, {}, true],
    ['other routers too', 40, { k1: { tokens: 70 } }, false],
    ['other routers, under the budget', 20, { k1: { tokens: 70 } }, true],
  ])('checks the budget against every router’s usage: %s', (_, own, totals, within) => {
    const limits = new KeyLimits();
    const report = limits.takeReport();
    limits.settle(report.reportId, { day: TODAY, usage: totals });
    limits.charge(key(), own, NOON);
    expect(limits.withinBudget(key(), NOON)).toBe(within);
  });

  it('ignores totals of an earlier day', () => {
    const limits = new KeyLimits();
    limits.settle(limits.takeReport().reportId, { day: '2026-12-01', usage: { k1: { tokens: 500 } } });
    expect(limits.withinBudget(key(), NOON)).toBe(true);
  });

  it('keeps counting a report the control plane refused, in this router’s own check', () => {
    const limits = new KeyLimits();
    limits.charge(key(), 80, NOON);
    const refused = limits.takeReport();
    limits.drop(refused.reportId, NOON);
    expect(limits.takeReport().usage).toEqual([]); // not sent again
    limits.charge(key(), 30, NOON);
    expect(limits.withinBudget(key(), NOON)).toBe(false);
    expect(limits.withinBudget(key(), NOON + 86_400_000)).toBe(true);
  });

  it('answers settle for another report without losing the pending one', () => {
    const limits = new KeyLimits();
    limits.charge(key(), 50, NOON);
    const pending = limits.takeReport();
    limits.settle('00000000-0000-4000-8000-000000000000', { day: TODAY, usage: {} });
    expect(limits.takeReport()).toBe(pending);
    expect(limits.usedToday('k1', NOON)).toBe(50);
  });
});
