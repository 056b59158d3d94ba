import crypto from 'node:crypto';
import { randomToken } from './random-token';

describe(randomToken.name, () => {
  it('gives distinct tokens of the asked length, drawing from the CSPRNG once per many of them', () => {
    const draws = jest.spyOn(crypto, 'randomFillSync');
    try {
      const tokens = Array.from({ length: 1000 }, () => randomToken(9));
      expect(new Set(tokens).size).toBe(1000);
      for (const t of tokens) expect(t).toMatch(/^[\w-]{12}$/);
      expect(draws.mock.calls.length).toBeLessThanOrEqual(3);
    } finally {
      draws.mockRestore();
    }
  });

  it('never hands out the same bytes twice across a refill', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(randomToken(32));
    expect(seen.size).toBe(2000);
  });
});
