/**
 * Where the router sends evidence (outcomes, shadow pairs, feedback) and the analyzer reads it:
 * Kafka in production, an in-process stream on one machine. Publishing never blocks the caller and
 * never throws: a sink buffers up to a bound, then drops and counts.
 */
export interface EventPublisher {
  readonly name: string;
  /** Enqueue; returns false when the event was dropped (buffer full or sink closed). */
  publish(topic: string, key: string, value: unknown): boolean;
  stats(): EventPublisherStats;
  /** Flushes what can be flushed within `timeoutMs`, then stops. */
  close(timeoutMs?: number): Promise<void>;
}

export interface EventPublisherStats {
  readonly buffered: number;
  readonly published: number;
  readonly dropped: number;
  /** Whether the last delivery attempt succeeded (false while the broker is unreachable). */
  readonly healthy: boolean;
}

export interface ReceivedEvent {
  readonly topic: string;
  readonly key: string;
  readonly value: unknown;
}

/** A consumer of the same topics (the analyzer). */
export interface EventSubscriber {
  subscribe(
    topics: readonly string[],
    handler: (topic: string, key: string, value: unknown) => Promise<void>,
  ): Promise<void>;
  /**
   * Like subscribe(), a batch at a time: one handler call per fetched batch, whose events count as
   * handled (committed) only once it resolves. For consumers that write each batch in one transaction.
   */
  subscribeBatches(
    topics: readonly string[],
    handler: (events: readonly ReceivedEvent[]) => Promise<void>,
  ): Promise<void>;
  close(): Promise<void>;
}

export const EVENT_PUBLISHER = Symbol('EVENT_PUBLISHER');
export const EVENT_SUBSCRIBER = Symbol('EVENT_SUBSCRIBER');
