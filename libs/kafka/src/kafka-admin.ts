import { createKafka, type KafkaConnectionOptions } from './kafka-client';

export interface EnsureTopicsOptions {
  /** Default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  /** Topic-level settings for topics this call creates, e.g. `{ 'retention.ms': '604800000' }`. */
  readonly config?: Readonly<Record<string, string>>;
}

/**
 * Creates the topics that do not exist yet, with `partitions` partitions, and waits for their leaders.
 * Existing topics are left as they are (a topic with fewer partitions is reported in the log, not grown:
 * growing one reshuffles which partition a key maps to). Returns the names it created.
 */
export async function ensureTopics(
  connection: readonly string[] | KafkaConnectionOptions,
  topics: readonly string[],
  partitions: number,
  options: EnsureTopicsOptions = {},
): Promise<string[]> {
  const conn: KafkaConnectionOptions = isBrokerList(connection)
    ? { brokers: connection, clientId: 'aviary-admin' }
    : connection;
  const admin = createKafka(conn).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: partitions,
          ...(options.replicationFactor !== undefined
            ? { replicationFactor: options.replicationFactor }
            : {}),
          ...(options.config
            ? { configEntries: Object.entries(options.config).map(([name, value]) => ({ name, value })) }
            : {}),
        })),
      });
    }
    const present = topics.filter((t) => existing.has(t));
    if (present.length > 0 && conn.log) {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: present });
      for (const { name, partitions: parts } of metadata) {
        if (parts.length < partitions)
          conn.log('warn', `topic ${name} has ${parts.length} partitions, wanted ${partitions}`);
      }
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}

function isBrokerList(c: readonly string[] | KafkaConnectionOptions): c is readonly string[] {
  return Array.isArray(c);
}
