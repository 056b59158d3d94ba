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

  it('keeps an exhausted bucket across the minute it turns its generations over', () => {
    const t = 10_000_000;
    const l = new RateLimiter(6, t); // one token per 10 s
    for (let i = 0; i < 6; i++) l.take('alice', t + 59_000);
    // The generation turns at t + 60 s: alice's empty bucket moves on, it is not forgotten.
    expect(l.take('alice', t + 60_000)).toBe(9);
    expect(l.take('alice', t + 125_000)).toBe(0); // 65 s later it has refilled
  });

  it('forgets keys untouched for a minute, whose buckets are full anyway', () => {
    const t = 20_000_000;
    const l = new RateLimiter(100, t);
    for (let i = 0; i < 1000; i++) l.take(`user-${i}`, t + 1_000);
    expect(l.size).toBe(1000);
    l.take('someone', t + 61_000); // turn over: the thousand are last minute's
    expect(l.size).toBe(1001);
    l.take('someone', t + 122_000); // untouched for a minute: dropped in one step
    expect(l.size).toBe(1);
    expect(l.take('user-1', t + 122_000)).toBe(0);
  });

  it('answers as if it had never forgotten, for any pattern of use', () => {
    // A reference limiter that never forgets, against the one that drops whole generations.
    const perMinute = 5;
    const reference = new Map<string, { tokens: number; at: number }>();
    const referenceTake = (key: string, now: number) => {
      const b = reference.get(key) ?? { tokens: perMinute, at: now };
      b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) * perMinute) / 60_000);
      b.at = now;
      reference.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / (perMinute / 60_000) / 1000));
    };
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let now = 30_000_000;
    const l = new RateLimiter(perMinute, now);
    for (let i = 0; i < 5000; i++) {
      now += Math.floor(rand() * (rand() < 0.05 ? 150_000 : 3_000));
      const key = `k${Math.floor(rand() * 4)}`;
      expect(l.take(key, now)).toBe(referenceTake(key, now));
    }
  });
});
