import { Partitioners, type ICustomPartitioner, type PartitionerArgs } from 'kafkajs';

/** Distinct (key, partition count) pairs remembered, at most; then the memory starts over. */
const MAX_REMEMBERED = 10_000;

/**
 * kafkajs' default partitioner (murmur2, the Java client's choice, so a key lands where any Kafka
 * client would put it), remembered per key. Aviary keys every event by its rollout (or model), so a
 * router sends thousands of events a second under a handful of keys, and kafkajs' murmur2 runs on
 * 64-bit `Long` arithmetic in JavaScript: in the router's CPU profile it cost more than encoding the
 * record. For a keyed message the default partitioner depends only on the key and the partition
 * count, so the answer is cached under both; unkeyed or explicitly partitioned messages go to it
 * unchanged.
 */
export const rememberingPartitioner: ICustomPartitioner = () => {
  const partition = Partitioners.DefaultPartitioner();
  const remembered = new Map<string, number>();
  return (args: PartitionerArgs): number => {
    const { message, partitionMetadata } = args;
    if (message.key == null || message.partition != null) return partition(args);
    const key =
      typeof message.key === 'string'
        ? `${partitionMetadata.length}s${message.key}`
        : `${partitionMetadata.length}b${message.key.toString('latin1')}`;
    let chosen = remembered.get(key);
    if (chosen === undefined) {
      chosen = partition(args);
      if (remembered.size >= MAX_REMEMBERED) remembered.clear();
      remembered.set(key, chosen);
    }
    return chosen;
  };
};
