import { DEFAULT_JUDGE_GATE, judgeGate, judgeMessages, parseJudgeReply } from './judge';

describe('LLM judge', () => {
  it('shows the shadow as A or B as asked, and maps the verdict back to the shadow', () => {
    const first = judgeMessages([{ role: 'user', content: 'q' }], 'BASE', 'SHADOW', true)[1]!.content;
    expect(first.indexOf('SHADOW')).toBeLessThan(first.indexOf('BASE'));
    const second = judgeMessages(null, 'BASE', 'SHADOW', false)[1]!.content;
    expect(second.indexOf('BASE')).toBeLessThan(second.indexOf('SHADOW'));
    expect(second).toContain('not captured');
  });

  it.each([
    ['{"winner":"A","reason":"x"}', true, 'win'],
    ['{"winner":"A","reason":"x"}', false, 'loss'],
    ['Sure! {"winner": "b"}', false, 'win'],
    ['{"winner":"tie"}', true, 'tie'],
    ['B', true, 'loss'],
    ['I cannot decide', true, null],
    ['{"winner":"C"}', true, null],
  ])('reads %j (shadow first: %s) as %s', (reply, shadowFirst, expected) => {
    expect(parseJudgeReply(reply, shadowFirst)).toBe(expected);
  });

  it.each([
    [{ wins: 0, ties: 0, losses: 0 }, 'NoData'],
    [{ wins: 5, ties: 10, losses: 5 }, 'Inconclusive'], // 75% but only 20 judged
    [{ wins: 10, ties: 25, losses: 5 }, 'Successful'],
    [{ wins: 2, ties: 8, losses: 90 }, 'Failed'],
    [{ wins: 10, ties: 8, losses: 22 }, 'Inconclusive'], // 45%: below, but not confidently
  ])('gates %j as %s', (counts, verdict) => {
    expect(judgeGate(DEFAULT_JUDGE_GATE, counts).verdict).toBe(verdict);
  });
});
