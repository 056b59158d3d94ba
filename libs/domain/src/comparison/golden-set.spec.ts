import { compareGolden, gradeAnswer, parseGoldenSet, type GoldenItem } from './golden-set';
import { RefusalDetector } from './refusal-detector';

const refusals = new RefusalDetector();
const item = (over: Partial<GoldenItem> = {}): GoldenItem => ({
  id: 'q',
  messages: [{ role: 'user', content: 'How do I reset my password?' }],
  ...over,
});

describe('parseGoldenSet', () => {
  it('reads one item per line and names the line of every problem', () => {
    const { items, issues } = parseGoldenSet(
      [
        '{"id":"a","messages":[{"role":"user","content":"hi"}],"mustContain":["hello"]}',
        '',
        'not json',
        '{"id":"b","messages":[]}',
        '{"id":"a","messages":[{"role":"user","content":"x"}],"refusal":"maybe"}',
      ].join('\n'),
    );
    expect(items.map((i) => i.id)).toEqual(['a', 'a']);
    expect(issues).toEqual([
      { field: 'goldenSet[3]', message: 'is not valid JSON' },
      { field: 'goldenSet[4].messages', message: 'must be a non-empty array of {role, content} strings' },
      { field: 'goldenSet[5].id', message: 'duplicates id "a"' },
      { field: 'goldenSet[5].refusal', message: 'must be forbidden, expected or any' },
    ]);
  });

  it('refuses an empty set', () => {
    expect(parseGoldenSet('\n\n').issues).toEqual([{ field: 'goldenSet', message: 'has no items' }]);
  });
});

describe('gradeAnswer', () => {
  it.each([
    [
      'an answer with the required words',
      item({ mustContain: ['settings'] }),
      'Open Settings and pick reset.',
      [],
    ],
    ['an answer without them', item({ mustContain: ['settings'] }), 'Call support.', ['lacks "settings"']],
    [
      'a forbidden word',
      item({ mustNotContain: ['password123'] }),
      'Try password123',
      ['contains "password123"'],
    ],
    ['a refusal where an answer was due', item(), "I'm sorry, but I can't help with that.", ['refuses']],
    [
      'a refusal that was expected',
      item({ refusal: 'expected' }),
      "I'm sorry, but I can't help with that.",
      [],
    ],
    ['broken JSON', item({ json: true }), '{"a":', ['is not valid JSON']],
    [
      'a near-copy of the expected answer',
      item({ expected: 'Open settings, then choose reset password.' }),
      'Open settings, then choose Reset Password!',
      [],
    ],
    ['no answer at all', item(), null, ['no answer (the call failed)']],
  ])('grades %s', (_name, it_, answer, failures) => {
    expect(gradeAnswer(it_, answer, refusals).failures).toEqual(failures);
  });
});

describe('compareGolden', () => {
  const items = [item({ id: 'a' }), item({ id: 'b' }), item({ id: 'edge', edgeCase: true })];
  const grades = (passed: Record<string, boolean>) =>
    Object.entries(passed).map(([id, p]) => ({ id, passed: p, failures: p ? [] : ['refuses'] }));

  it('passes a candidate that matches or beats the baseline', () => {
    const r = compareGolden(
      items,
      grades({ a: true, b: false, edge: true }),
      grades({ a: true, b: true, edge: true }),
    );
    expect(r).toMatchObject({
      verdict: 'Successful',
      baselinePassed: 2,
      candidatePassed: 3,
      regressions: [],
    });
  });

  it('fails a candidate that passes fewer items', () => {
    const r = compareGolden(
      items,
      grades({ a: true, b: true, edge: true }),
      grades({ a: false, b: true, edge: true }),
    );
    expect(r.verdict).toBe('Failed');
    expect(r.summary).toMatch(/worse than the baseline, e.g. a refuses/);
  });

  it('fails a candidate with a new edge-case failure even when its total is higher', () => {
    const r = compareGolden(
      items,
      grades({ a: false, b: false, edge: true }),
      grades({ a: true, b: true, edge: false }),
    );
    expect(r.verdict).toBe('Failed');
    expect(r.summary).toMatch(/new failure on edge case edge/);
  });
});
