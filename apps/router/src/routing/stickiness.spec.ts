import { stickinessBucket, stickinessKey } from './stickiness';

describe(stickinessKey.name, () => {
  // prettier-ignore
  it.each([
    { name: 'a conversation header wins', headers: { 'x-aviary-conversation': 't1', 'x-aviary-user': 'u1' }, user: 'body', thread: 'u:first', key: 'c:t1', source: 'conversation' },
    { name: 'then the thread a request continues', headers: { 'x-aviary-user': 'u1' }, user: 'body', thread: 'r:first', key: 'r:first', source: 'conversation' },
    { name: 'then the user header', headers: { 'x-aviary-user': 'u1' }, user: 'body', thread: null, key: 'u:u1', source: 'user' },
    { name: 'then the OpenAI user field', headers: {}, user: 'body', thread: null, key: 'u:body', source: 'body-user' },
    { name: 'the user field and the user header bucket alike', headers: { 'x-aviary-user': 'body' }, user: null, thread: null, key: 'u:body', source: 'user' },
  ])('$name', ({ headers, user, thread, key, source }) => {
    expect(stickinessKey(headers, user, thread)).toEqual({ key, source });
  });

  it('falls back to a random key, which has no bucket', () => {
    const a = stickinessKey({}, null);
    expect(a.source).toBe('random');
    expect(a.key).not.toBe(stickinessKey({}, null).key);
    expect(stickinessBucket(a)).toBeNull();
  });

  it('buckets keys evenly into 0-99', () => {
    const counts = new Array<number>(100).fill(0);
    for (let i = 0; i < 20_000; i++) counts[stickinessBucket({ key: `u:${i}`, source: 'user' })!]! += 1;
    expect(Math.min(...counts)).toBeGreaterThan(120);
    expect(Math.max(...counts)).toBeLessThan(280);
  });
});
