import type { EventPublisher, EventPublisherStats, EventSubscriber, ReceivedEvent } from '@aviary/domain';
import { BoundedQueue } from './bounded-queue';
import type { KafkaLog } from './kafka-client';

export interface InProcessEventBusOptions {
  /** Events waiting for delivery, at most. Default 50,000. */
  readonly maxBuffered?: number;
  /** Events delivered per turn of the event loop before yielding to I/O. Default 500. */
  readonly batchSize?: number;
  /** Same shape as the Kafka adapters' log, so one sink serves both. */
  readonly log?: KafkaLog;
}

type Handler = (topic: string, key: string, value: unknown) => Promise<void>;
type BatchHandler = (events: readonly ReceivedEvent[]) => Promise<void>;

interface QueuedEvent {
  readonly topic: string;
  readonly key: string;
  readonly value: unknown;
}

/**
 * The embedded stand-in for Kafka when router and analyzer run in one process (`npm start`): the same
 * contract as `KafkaEventPublisher` — `publish()` is O(1), never runs subscriber code and never throws;
 * a bounded queue drops (and counts) what subscribers are too slow to take.
 *
 * Delivery is like one consumer group per subscription on a single partition: events arrive in publish
 * order, each handler call is awaited before the next event, and every value goes through a JSON round trip
 * so subscribers see exactly what they would read from Kafka (no shared objects, dates as strings). Events
 * published before anyone subscribed wait in the queue (up to the bound) for the first subscriber; events
 * for topics nobody subscribed to are discarded but count as published, as Kafka would accept them.
 *
 * Unlike the Kafka subscriber, a handler that throws does not get the event again: the error is logged and
 * delivery moves on. `close()` ends both sides.
 */
export class InProcessEventBus implements EventPublisher, EventSubscriber {
  readonly name = 'in-process';
  private readonly queue: BoundedQueue<QueuedEvent>;
  private readonly batchSize: number;
  private readonly log: KafkaLog;
  private readonly subscriptions: { readonly topics: ReadonlySet<string>; readonly handler: Handler }[] = [];
  private readonly batchSubscriptions: {
    readonly topics: ReadonlySet<string>;
    readonly handler: BatchHandler;
  }[] = [];
  private delivering = 0;
  private draining: Promise<void> | null = null;
  private published = 0;
  private dropped = 0;
  private healthy = true;
  private overflowing = false;
  private closing = false;
  private stopped = false;
  private closed: Promise<void> | null = null;

  constructor(options: InProcessEventBusOptions = {}) {
    this.queue = new BoundedQueue(options.maxBuffered ?? 50_000);
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    this.log = options.log ?? (() => undefined);
  }

  publish(topic: string, key: string, value: unknown): boolean {
    if (this.closing) {
      this.dropped++;
      return false;
    }
    // The events being delivered count against the bound too: buffered never exceeds maxBuffered.
    if (
      this.queue.length + this.delivering >= this.queue.capacity ||
      !this.queue.push({ topic, key, value })
    ) {
      this.dropped++;
      if (!this.overflowing) {
        this.overflowing = true;
        this.log('warn', `buffer full (${this.queue.capacity} events); dropping until subscribers catch up`);
      }
      return false;
    }
    this.startDraining();
    return true;
  }

  subscribe(topics: readonly string[], handler: Handler): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the event bus is closed'));
    this.subscriptions.push({ topics: new Set(topics), handler });
    this.startDraining();
    return Promise.resolve();
  }

  /** Like subscribe(), but the handler gets each taken batch's events of its topics in one call. */
  subscribeBatches(topics: readonly string[], handler: BatchHandler): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the event bus is closed'));
    this.batchSubscriptions.push({ topics: new Set(topics), handler });
    this.startDraining();
    return Promise.resolve();
  }

  stats(): EventPublisherStats {
    return {
      buffered: this.queue.length + this.delivering,
      published: this.published,
      dropped: this.dropped,
      healthy: this.healthy,
    };
  }

  close(timeoutMs = 5_000): Promise<void> {
    this.closing = true;
    this.closed ??= this.stop(timeoutMs);
    return this.closed;
  }

  private startDraining(): void {
    if (this.draining !== null || this.queue.length === 0) return;
    if (this.subscriptions.length === 0 && this.batchSubscriptions.length === 0) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      // Published while the last delivery was being awaited.
      if (!this.stopped) this.startDraining();
    });
  }

  /** Never rejects. */
  private async drain(): Promise<void> {
    // Never deliver inside publish(): the first handler runs on a later turn of the event loop.
    await nextTurn();
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.take(this.batchSize);
      this.delivering = batch.length;
      const delivered: ReceivedEvent[] = [];
      for (const event of batch) {
        const received = await this.deliver(event);
        // stop() counted this batch's undelivered rest (and the event whose handler it did not wait for).
        if (this.stopped) return;
        if (received) delivered.push(received);
        this.delivering--;
      }
      this.delivering = 0;
      await this.deliverBatch(delivered);
      if (this.stopped) return;
      if (this.overflowing) {
        this.overflowing = false;
        this.log('info', 'buffer has room again');
      }
      await nextTurn();
    }
  }

  private async deliverBatch(events: readonly ReceivedEvent[]): Promise<void> {
    for (const { topics, handler } of this.batchSubscriptions) {
      const mine = events.filter((e) => topics.has(e.topic));
      if (mine.length === 0) continue;
      try {
        await handler(mine);
      } catch (err) {
        this.healthy = false;
        this.log(
          'error',
          `a batch handler failed on ${mine.length} event(s): ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }

  /** Delivers to the per-event subscribers; returns the event as subscribers see it (null: dropped). */
  private async deliver(event: QueuedEvent): Promise<ReceivedEvent | null> {
    let value: unknown;
    try {
      const json = JSON.stringify(event.value);
      value = json === undefined ? null : JSON.parse(json);
    } catch (err) {
      this.dropped++;
      this.log('error', `dropping an event for ${event.topic}: ${(err as Error).message}`);
      return null;
    }
    let ok = true;
    for (const { topics, handler } of this.subscriptions) {
      if (!topics.has(event.topic)) continue;
      try {
        await handler(event.topic, event.key, value);
      } catch (err) {
        ok = false;
        this.log(
          'error',
          `a ${event.topic} handler failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    if (this.stopped) return null;
    this.healthy = ok;
    this.published++;
    return { topic: event.topic, key: event.key, value };
  }

  private async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + Math.max(0, timeoutMs);
    while (this.draining !== null && Date.now() < deadline) {
      await Promise.race([this.draining, sleep(deadline - Date.now())]);
    }
    this.stopped = true;
    // Whatever did not make it (no subscriber, or too slow): counted, not silently forgotten.
    const left = this.queue.clear() + this.delivering;
    this.delivering = 0;
    this.dropped += left;
    if (left > 0) this.log('warn', `closed with ${left} event(s) undelivered (counted as dropped)`);
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
