import { comparePair, textSimilarity } from './pair-comparison';

const side = (output: string | null, refusal = false) => ({ output, refusal, invalidJson: false });

describe('comparePair', () => {
  it.each([
    ['identical answers', side('Paris is the capital.'), side('Paris is the capital.'), true, 1],
    [
      'answers differing only in case and spacing',
      side('Paris  is THE capital.'),
      side('paris is the capital.'),
      true,
      1,
    ],
  ])('counts %s as an exact match', (_name, b, s, exact, similarity) => {
    const c = comparePair(b, s);
    expect(c.exactMatch).toBe(exact);
    expect(c.similarity).toBe(similarity);
    expect(c.lengthRatio).toBeCloseTo(1, 1);
  });

  it('scores a small edit as similar and an unrelated answer as dissimilar', () => {
    const base = 'The quick brown fox jumps over the lazy dog near the river bank';
    const edited = 'The quick brown fox jumps over the lazy cat near the river bank';
    const unrelated = 'I cannot help with that request, please ask something else';
    expect(textSimilarity(base, edited)).toBeGreaterThan(0.75);
    expect(textSimilarity(base, unrelated)).toBeLessThan(0.1);
  });

  it('takes the similarity the router measured (embeddings) instead of comparing the texts', () => {
    const vectors = side('[2 embeddings of 64 dimensions]');
    expect(comparePair(vectors, vectors, 0.42)).toMatchObject({
      exactMatch: false,
      similarity: 0.42,
      lengthRatio: 1,
    });
    expect(comparePair(vectors, vectors, 1)).toMatchObject({ exactMatch: true, similarity: 1 });
    expect(comparePair(vectors, vectors, null).similarity).toBe(1); // not measured: the texts
  });

  it('flags a refusal only the shadow made', () => {
    const c = comparePair(side('Here is the recipe'), side("I'm sorry, I can't help with that", true));
    expect(c.shadowOnlyRefusal).toBe(true);
    expect(c.baselineOnlyRefusal).toBe(false);
  });

  it('does not compare texts when one side failed', () => {
    const c = comparePair(side('An answer'), side(null));
    expect(c).toMatchObject({
      comparable: false,
      similarity: null,
      lengthRatio: null,
      shadowOnlyRefusal: false,
    });
  });

  it('reports the shadow answer length relative to the baseline, capped', () => {
    expect(comparePair(side('abcd'), side('ab')).lengthRatio).toBe(0.5);
    expect(comparePair(side('a'), side('a'.repeat(500))).lengthRatio).toBe(10);
    expect(comparePair(side(''), side('')).lengthRatio).toBe(1);
  });
});
