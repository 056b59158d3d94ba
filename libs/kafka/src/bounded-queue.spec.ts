import { BoundedQueue } from './bounded-queue';

describe(BoundedQueue.name, () => {
  it('is FIFO across growth and wrap-around', () => {
    const q = new BoundedQueue<number>(5_000);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 97; i++) expect(q.push(next++)).toBe(true);
      for (const n of q.take(61)) expect(n).toBe(expected++);
    }
    expect(q.length).toBe(next - expected);
    for (const n of q.take(Infinity)) expect(n).toBe(expected++);
    expect(q.length).toBe(0);
  });

  it('refuses to push past its capacity', () => {
    const q = new BoundedQueue<number>(3);
    expect([1, 2, 3, 4].map((n) => q.push(n))).toEqual([true, true, true, false]);
    expect(q.full).toBe(true);
    expect(q.take(10)).toEqual([1, 2, 3]);
  });

  it.each([
    {
      name: 'everything fits back',
      capacity: 10,
      queued: [4, 5],
      back: [1, 2, 3],
      dropped: 0,
      after: [1, 2, 3, 4, 5],
    },
    {
      name: 'the oldest are dropped',
      capacity: 4,
      queued: [4, 5],
      back: [1, 2, 3],
      dropped: 1,
      after: [2, 3, 4, 5],
    },
    { name: 'none fit', capacity: 2, queued: [4, 5], back: [1, 2, 3], dropped: 3, after: [4, 5] },
    { name: 'into an empty queue', capacity: 2, queued: [], back: [1, 2, 3], dropped: 1, after: [2, 3] },
  ])('puts taken items back at the head: $name', ({ capacity, queued, back, dropped, after }) => {
    const q = new BoundedQueue<number>(capacity);
    for (const n of queued) q.push(n);
    expect(q.putBack(back)).toBe(dropped);
    expect(q.take(Infinity)).toEqual(after);
  });

  it('puts back across the wrap-around point', () => {
    const q = new BoundedQueue<number>(8);
    for (let i = 0; i < 8; i++) q.push(i);
    const taken = q.take(5);
    for (let i = 8; i < 11; i++) q.push(i);
    expect(q.putBack(taken)).toBe(3);
    expect(q.take(Infinity)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new BoundedQueue(0)).toThrow(RangeError);
    expect(() => new BoundedQueue(1.5)).toThrow(RangeError);
  });
});
