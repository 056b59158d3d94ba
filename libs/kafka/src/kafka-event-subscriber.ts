import type { Consumer, ConsumerRunConfig, KafkaMessage } from 'kafkajs';
import type { EventSubscriber, ReceivedEvent } from '@aviary/domain';
import { createKafka, type KafkaConnectionOptions, type KafkaLog } from './kafka-client';
import { retryRetriable } from './retry-retriable';

export interface KafkaEventSubscriberOptions extends KafkaConnectionOptions {
  /** Consumer group: members of one group share the partitions; each group sees every event. */
  readonly groupId: string;
  /**
   * Where a group without committed offsets starts: the oldest retained event (true) or events published
   * after it joined (false, the default). A group with committed offsets always resumes after them.
   */
  readonly fromBeginning?: boolean;
  /** Default 30,000 (kafkajs). */
  readonly sessionTimeoutMs?: number;
  /**
   * How long a fetch waits on the broker for new events. `close()` waits for the fetch in progress, so this
   * is also how long closing can take. Default 1,000 (kafkajs: 5,000; the Java consumer: 500).
   */
  readonly maxWaitTimeMs?: number;
  /** How often handled offsets are committed. Default 1,000 ms: a crash redelivers at most about that much. */
  readonly commitIntervalMs?: number;
}

type Handler = (topic: string, key: string, value: unknown) => Promise<void>;
type BatchHandler = (events: readonly ReceivedEvent[]) => Promise<void>;
const SKIP = Symbol('skip');

/**
 * Reads events as one member of a Kafka consumer group, at least once: an event's offset is committed only
 * after its handler resolved (kafkajs `eachMessage` resolves the offset when the handler returns, and the
 * resolved offsets are committed every `commitIntervalMs` and on close). A handler that throws gets the
 * event again (kafkajs retries, then restarts the consumer from the last commit), so handlers must be
 * idempotent — key on `requestId`. A value that is not JSON is logged and skipped, never retried.
 *
 * One `subscribe()` per instance: a kafkajs consumer cannot add topics once it runs.
 */
export class KafkaEventSubscriber implements EventSubscriber {
  private consumer: Consumer | null = null;
  private readonly log: KafkaLog;

  constructor(private readonly options: KafkaEventSubscriberOptions) {
    this.log = options.log ?? (() => undefined);
  }

  /** Resolves once this member has joined the group and been given its partitions. */
  async subscribe(topics: readonly string[], handler: Handler): Promise<void> {
    const consumer = this.createConsumer();
    await this.start(consumer, topics, {
      eachMessage: async ({ topic, partition, message }) => {
        const value = this.decode(topic, partition, message);
        if (value === SKIP) return;
        await handler(topic, message.key?.toString('utf8') ?? '', value);
      },
    });
  }

  /**
   * One handler call per fetched batch (one partition's worth). The batch's offsets are resolved only
   * when the handler resolves; if it throws, kafkajs fetches the batch again (at least once).
   */
  async subscribeBatches(topics: readonly string[], handler: BatchHandler): Promise<void> {
    const consumer = this.createConsumer();
    await this.start(consumer, topics, {
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const events: ReceivedEvent[] = [];
        for (const message of batch.messages) {
          const value = this.decode(batch.topic, batch.partition, message);
          if (value !== SKIP)
            events.push({ topic: batch.topic, key: message.key?.toString('utf8') ?? '', value });
        }
        if (events.length > 0) await handler(events);
      },
    });
  }

  private decode(topic: string, partition: number, message: KafkaMessage): unknown {
    try {
      return JSON.parse(message.value?.toString('utf8') ?? '');
    } catch {
      this.log('warn', `skipping a non-JSON event at ${topic}/${partition}@${message.offset}`);
      return SKIP;
    }
  }

  private createConsumer(): Consumer {
    if (this.consumer)
      throw new Error('KafkaEventSubscriber: subscribe() was already called on this instance');
    const consumer = createKafka(this.options).consumer({
      groupId: this.options.groupId,
      maxWaitTimeInMs: this.options.maxWaitTimeMs ?? 1_000,
      ...(this.options.sessionTimeoutMs !== undefined
        ? { sessionTimeout: this.options.sessionTimeoutMs }
        : {}),
    });
    this.consumer = consumer;
    return consumer;
  }

  private async start(
    consumer: Consumer,
    topics: readonly string[],
    run: Pick<ConsumerRunConfig, 'eachMessage' | 'eachBatch' | 'eachBatchAutoResolve'>,
  ): Promise<void> {
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.log(
        'error',
        `consumer group ${this.options.groupId} crashed (${payload.error.message}); ` +
          (payload.restart ? 'restarting from the last committed offsets' : 'not restarting'),
      );
    });
    try {
      await consumer.connect();
      // A topic the broker is still creating (auto-created, or by ensureTopics a moment ago) refuses
      // the subscription with a retriable error for a few hundred milliseconds.
      await retryRetriable(
        () => consumer.subscribe({ topics: [...topics], fromBeginning: this.options.fromBeginning ?? false }),
        {
          attempts: 10,
          delayMs: 250,
          onRetry: (err, attempt) =>
            this.log(
              'warn',
              `subscribing to ${topics.join(', ')} failed (${err instanceof Error ? err.message : String(err)}); retry ${attempt} of 9`,
            ),
        },
      );
      await consumer.run({
        autoCommit: true,
        autoCommitInterval: this.options.commitIntervalMs ?? 1_000,
        ...run,
      });
    } catch (err) {
      this.consumer = null;
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  /** Commits what was handled, leaves the group (its partitions move to other members at once). */
  async close(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = null;
    if (consumer) await consumer.disconnect();
  }
}
