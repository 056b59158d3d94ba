import { answerText, brokenJson, jsonAnswer, judgeVerdict, REFUSALS, splitIntoDeltas } from './answers';

describe('answers', () => {
  it('derives the answer from the prompt, deterministically', () => {
    const a = answerText('baseline', 'How do I rotate a TLS certificate?');
    expect(a).toBe(answerText('baseline', 'How do I rotate a TLS certificate?'));
    expect(a).toMatch(/^Answer from baseline: you asked about "How do I rotate a TLS certificate\?"\. /);
    expect(answerText('candidate', 'How do I rotate a TLS certificate?')).toMatch(/^Answer from candidate/);
    expect(answerText('baseline', '')).toMatch(/an empty message/);
    const long = answerText('b', 'word '.repeat(50));
    expect(long).toMatch(/"(word ){11}word…"/);
  });

  it('varies answer length across prompts, and lengthFactor shortens it', () => {
    const prompts = Array.from({ length: 40 }, (_, i) => `question number ${i}`);
    const lengths = new Set(prompts.map((p) => answerText('b', p).length));
    expect(lengths.size).toBeGreaterThan(5);
    const total = (factor: number): number =>
      prompts.reduce((n, p) => n + answerText('b', p, factor).length, 0);
    expect(total(0.4) / total(1)).toBeLessThan(0.7);
  });

  it('splits into deltas of a few words that join back exactly', () => {
    for (const text of [
      '',
      'one',
      '  lead and trail  ',
      'a b c d e f g',
      'tab\tand\nnewline  here 🦉 owl',
      '{"a": "b c d e"}',
    ]) {
      const deltas = splitIntoDeltas(text);
      expect(deltas.join('')).toBe(text);
      for (const d of deltas) expect(d.trim().split(/\s+/).length).toBeLessThanOrEqual(3);
    }
    expect(splitIntoDeltas('a b c d e f g')).toEqual(['a b c ', 'd e f ', 'g']);
  });

  it('breaks JSON so that it no longer parses, in either style', () => {
    const valid = jsonAnswer('m', answerText('m', 'x'), undefined);
    expect(() => JSON.parse(valid) as unknown).not.toThrow();
    for (let variant = 0; variant < 4; variant++) {
      expect(() => JSON.parse(brokenJson(valid, variant)) as unknown).toThrow();
    }
    expect(() => JSON.parse(brokenJson('42', 0)) as unknown).toThrow();
  });

  it('fills a json_schema shallowly: properties, enums, arrays, nullable types', () => {
    const out = JSON.parse(
      jsonAnswer('cand', 'text', {
        type: 'object',
        properties: {
          model: { type: 'string' },
          mood: { enum: ['happy', 'sad'] },
          score: { type: ['number', 'null'] },
          ok: { type: 'boolean' },
          nested: { type: 'object', properties: { items: { type: 'array', items: { type: 'integer' } } } },
          either: { anyOf: [{ type: 'string' }, { type: 'null' }] },
        },
      }),
    ) as Record<string, unknown>;
    expect(out).toEqual({
      model: 'cand',
      mood: 'happy',
      score: expect.any(Number) as unknown,
      ok: true,
      nested: { items: [expect.any(Number)] },
      either: 'text',
    });
  });
});

describe('judgeVerdict', () => {
  const ask = (a: string, b: string) =>
    `Conversation:\nuser: hi\n\n[Answer A]\n${a}\n\n[Answer B]\n${b}\n\nWhich answer is better?`;
  it.each([
    [ask('Here is how.', REFUSALS[0]!), 'A'],
    [ask(REFUSALS[1]!, 'Here is how.'), 'B'],
    [ask('One answer.', 'Another answer.'), 'tie'],
    [ask(REFUSALS[0]!, REFUSALS[2]!), 'tie'],
  ])('prefers the answer that does not refuse (%#)', (prompt, winner) => {
    expect(JSON.parse(judgeVerdict(prompt)!)).toMatchObject({ winner });
  });

  it('is not a judge for ordinary questions', () => {
    expect(judgeVerdict('What is the capital of France?')).toBeNull();
  });
});
