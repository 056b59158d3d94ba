import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { rememberingPartitioner } from './keyed-partitioner';

const metadata = (n: number, leaderless: number[] = []): PartitionerArgs['partitionMetadata'] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
const args = (key: PartitionerArgs['message']['key'], n: number, partition?: number): PartitionerArgs => ({
  topic: 'aviary.outcomes.v1',
  partitionMetadata: metadata(n),
  message: { key, value: '{}', ...(partition === undefined ? {} : { partition }) },
});

describe('the remembering partitioner', () => {
  it('puts every keyed event where kafkajs’ default (Java-compatible) partitioner puts it', () => {
    const ours = rememberingPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const keys = [
      ...Array.from({ length: 200 }, (_, i) => `rollout-${i}-${(i * 7919).toString(36)}`),
      'model:demo-chat',
      'é-unicode-ключ',
      '',
    ];
    for (const n of [1, 3, 6, 12]) {
      for (const key of keys) {
        // Asked twice: the second answer comes from memory and must be the same.
        expect(ours(args(key, n))).toBe(theirs(args(key, n)));
        expect(ours(args(key, n))).toBe(theirs(args(key, n)));
        expect(ours(args(Buffer.from(key), n))).toBe(theirs(args(Buffer.from(key), n)));
      }
    }
  });

  it('remembers per partition count, so adding partitions moves a key as kafkajs would', () => {
    const ours = rememberingPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const moved = Array.from({ length: 50 }, (_, i) => `k${i}`).filter(
      (k) => ours(args(k, 6)) !== ours(args(k, 12)),
    );
    expect(moved.length).toBeGreaterThan(0);
    for (const k of moved) expect(ours(args(k, 12))).toBe(theirs(args(k, 12)));
  });

  it('keeps a string key and a different Buffer with the same latin1 text apart', () => {
    const ours = rememberingPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const text = 'é'.repeat(40);
    const latin1 = Buffer.from(text, 'latin1');
    expect(ours(args(text, 64))).toBe(theirs(args(text, 64)));
    expect(ours(args(latin1, 64))).toBe(theirs(args(latin1, 64)));
  });

  it('leaves explicitly partitioned messages alone and spreads unkeyed ones over live partitions', () => {
    const ours = rememberingPartitioner();
    expect(ours(args('k', 6, 4))).toBe(4);
    const seen = new Set<number>();
    for (let i = 0; i < 30; i++) seen.add(ours({ ...args(null, 6), partitionMetadata: metadata(6, [0, 1]) }));
    expect([...seen].sort()).toEqual([2, 3, 4, 5]);
  });
});
