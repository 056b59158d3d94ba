import { RateLimiter } from './rate-limiter';

describe(RateLimiter.name, () => {
  it('allows a burst of the per-minute budget, then asks the caller to wait', () => {
    const l = new RateLimiter(3);
    const t = 1_000_000;
    expect([l.take('alice', t), l.take('alice', t), l.take('alice', t)]).toEqual([0, 0, 0]);
    expect(l.take('alice', t)).toBe(20); // one token per 20 s at 3/min
    expect(l.take('bob', t)).toBe(0); // per key
  });

  it('refills over time', () => {
    const l = new RateLimiter(60);
    const t = 5_000_000;
    for (let i = 0; i < 60; i++) l.take('k', t);
    expect(l.take('k', t)).toBeGreaterThan(0);
    expect(l.take('k', t + 1000)).toBe(0);
  });

  it('is off at 0', () => {
    const l = new RateLimiter(0);
    for (let i = 0; i < 1000; i++) expect(l.take('k')).toBe(0);
  });
});
