import type { EventPublisher, EventPublisherStats } from '@aviary/domain';
import { BoundedQueue } from './bounded-queue';
import { createKafka, type KafkaConnectionOptions, type KafkaLog } from './kafka-client';
import { rememberingPartitioner } from './keyed-partitioner';

/** The slice of a kafkajs producer the publisher uses; a seam for unit tests. */
export interface BatchProducer {
  connect(): Promise<void>;
  sendBatch(batch: readonly TopicBatch[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface TopicBatch {
  readonly topic: string;
  /** Values are UTF-8 JSON, encoded once (see `takeBatch`). */
  readonly messages: readonly { readonly key: string; readonly value: Buffer }[];
}

/** Called for every (re)connect; each call must return a new producer (a new idempotent producer id). */
export type BatchProducerFactory = () => BatchProducer;

export interface KafkaEventPublisherOptions extends KafkaConnectionOptions {
  /** Events waiting to be sent, at most. Default 50,000. */
  readonly maxBuffered?: number;
  /** Events per `sendBatch`, at most. Default 500. */
  readonly batchSize?: number;
  /**
   * Encoded bytes per `sendBatch`, at most (at least one event is always sent). kafkajs puts a partition's
   * share of a batch into one record batch and the broker refuses record batches over its
   * `message.max.bytes` (1 MiB by default), so this stays below that. Default 900,000.
   */
  readonly maxBatchBytes?: number;
  /** An event whose JSON is larger than this is dropped (and counted) instead of sent. Default 900,000. */
  readonly maxEventBytes?: number;
  /** How long a partial batch waits for company before it is sent. Default 20 ms. */
  readonly lingerMs?: number;
  /** Backoff between failed sends: doubles from `initialMs` up to `maxMs`, ±20% jitter. */
  readonly retryBackoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** For tests; defaults to an idempotent kafkajs producer. */
  readonly producerFactory?: BatchProducerFactory;
}

interface PendingEvent {
  readonly topic: string;
  readonly key: string;
  readonly value: unknown;
  /** UTF-8 JSON, once encoded (a retried batch is not encoded twice). */
  encoded?: Buffer;
  /** Approximate bytes on the wire. */
  bytes?: number;
}

/** What a failed send means for the batch and the producer. */
type Failure = 'transient' | 'producer-state' | 'rejected';

const NULL_JSON = Buffer.from('null');

/** Record overhead in a batch (length, attributes, deltas, headers count) plus slack; an estimate. */
const RECORD_OVERHEAD_BYTES = 32;

/** Errors after which the producer id / sequence numbers are unusable and a new producer must be made. */
const PRODUCER_STATE_ERRORS = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
]);

/**
 * Publishes events to Kafka without ever making the caller wait: `publish()` appends to a bounded in-memory
 * queue and returns; one flush loop sends batches with `sendBatch` (kafkajs has no linger, so the loop is
 * the batching) and keeps at most one batch in flight.
 *
 * - Full queue: `publish()` returns false and counts a drop (O(1), the caller's event is the one dropped).
 * - Send failure (broker down, timeouts): the batch goes back to the head of the queue and is retried with
 *   backoff. Events that arrived meanwhile may have filled the queue; then the oldest events of the failed
 *   batch are dropped, so during a long outage the buffer keeps shifting towards the newest evidence.
 * - A batch the broker refuses for good (non-retriable protocol error: too large, not authorised, invalid
 *   topic) is dropped and counted, so one bad batch cannot block the stream. Batches are capped in bytes,
 *   and single events over `maxEventBytes` are dropped before they are sent.
 * - The kafkajs producer is idempotent and connected lazily. kafkajs' own retries are kept short (the flush
 *   loop retries for ever); a resent batch reuses the producer id and sequence numbers, so a batch whose
 *   acknowledgement was lost is not written twice — unless the broker rejects the producer state, in which
 *   case a new producer is made (at-least-once from then on).
 * - Values are JSON-encoded when their batch is first sent, not in `publish()`: callers hand over fresh
 *   objects and must not mutate them afterwards. A value JSON cannot encode is dropped and counted.
 *
 * Every accepted event ends up counted once as published or dropped (`close()` counts what it could not
 * deliver in time as dropped).
 */
export class KafkaEventPublisher implements EventPublisher {
  readonly name = 'kafka';
  private readonly queue: BoundedQueue<PendingEvent>;
  private readonly batchSize: number;
  private readonly maxBatchBytes: number;
  private readonly maxEventBytes: number;
  private readonly lingerMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly createProducer: BatchProducerFactory;
  private readonly log: KafkaLog;

  private producer: BatchProducer | null = null;
  private connected = false;
  private inflight: PendingEvent[] | null = null;
  private sending: Promise<void> | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  /** When the oldest event waiting in the queue arrived (performance.now()); the linger counts from it. */
  private pendingSince = 0;
  private failures = 0;
  private published = 0;
  private dropped = 0;
  private healthy = true;
  /** Set once the queue overflowed, reset (and reported) when it has room again. */
  private droppingSince: number | null = null;
  private dropsAtOverflow = 0;
  private closing = false;
  private stopped = false;
  private closed: Promise<void> | null = null;

  constructor(options: KafkaEventPublisherOptions) {
    this.queue = new BoundedQueue(positiveInt('maxBuffered', options.maxBuffered ?? 50_000));
    this.batchSize = positiveInt('batchSize', options.batchSize ?? 500);
    this.maxBatchBytes = positiveInt('maxBatchBytes', options.maxBatchBytes ?? 900_000);
    this.maxEventBytes = positiveInt('maxEventBytes', options.maxEventBytes ?? 900_000);
    this.lingerMs = Math.max(0, options.lingerMs ?? 20);
    this.backoffInitialMs = Math.max(1, options.retryBackoff?.initialMs ?? 100);
    this.backoffMaxMs = Math.max(this.backoffInitialMs, options.retryBackoff?.maxMs ?? 5_000);
    this.log = options.log ?? (() => undefined);
    this.createProducer = options.producerFactory ?? (() => createKafkajsProducer(options));
  }

  publish(topic: string, key: string, value: unknown): boolean {
    if (this.closing) {
      this.dropped++;
      return false;
    }
    const wasEmpty = this.queue.length === 0;
    if (!this.queue.push({ topic, key, value })) {
      this.dropped++;
      this.noteOverflow(1);
      return false;
    }
    if (wasEmpty) this.pendingSince = performance.now();
    this.wake();
    return true;
  }

  stats(): EventPublisherStats {
    return {
      buffered: this.queue.length + (this.inflight?.length ?? 0),
      published: this.published,
      dropped: this.dropped,
      healthy: this.healthy,
    };
  }

  close(timeoutMs = 5_000): Promise<void> {
    this.closing = true;
    this.closed ??= this.drainAndStop(timeoutMs);
    return this.closed;
  }

  /**
   * Makes sure a flush is coming: now if a full batch is waiting, else once the oldest waiting event is
   * `lingerMs` old (Kafka's linger.ms). Sending a partial batch as soon as the previous send returns would
   * turn a steady stream into a send per handful of events, and each send costs far more CPU than an event.
   */
  private wake(): void {
    if (this.sending !== null || this.retryTimer !== null || this.immediate !== null || this.stopped) return;
    const lingerLeft = this.pendingSince + this.lingerMs - performance.now();
    if (this.queue.length >= this.batchSize || lingerLeft <= 0) {
      this.clearLinger();
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.flush();
      });
    } else if (this.lingerTimer === null) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = null;
        this.flush();
      }, lingerLeft);
      this.lingerTimer.unref();
    }
  }

  private flush(): void {
    if (this.sending !== null || this.stopped || this.queue.length === 0) return;
    this.clearLinger();
    const batch = this.takeBatch();
    this.inflight = batch;
    this.sending = this.send(batch).finally(() => {
      this.sending = null;
      this.afterSend();
    });
  }

  /**
   * Up to `batchSize` events and `maxBatchBytes` from the head, encoded. Events JSON cannot encode and
   * events over `maxEventBytes` are dropped here; the batch may come out empty.
   */
  private takeBatch(): PendingEvent[] {
    const taken = this.queue.take(this.batchSize);
    const batch: PendingEvent[] = [];
    let bytes = 0;
    let unsendable = 0;
    for (let i = 0; i < taken.length; i++) {
      const event = taken[i] as PendingEvent;
      if (event.encoded === undefined) {
        try {
          // Bytes, not the string: kafkajs sizes and writes a string value with two more UTF-8
          // passes over it (`Buffer.byteLength` twice, then the write), a Buffer by its length and
          // one copy. A pair event that captured a long prompt is tens of kilobytes.
          event.encoded = Buffer.from(JSON.stringify(event.value) ?? 'null');
          event.bytes = event.encoded.length + Buffer.byteLength(event.key) + RECORD_OVERHEAD_BYTES;
        } catch (err) {
          if (unsendable++ === 0) this.log('error', `dropping an event for ${event.topic}: ${describe(err)}`);
          continue;
        }
        if ((event.bytes ?? 0) > this.maxEventBytes) {
          if (unsendable++ === 0) {
            this.log(
              'error',
              `dropping a ${event.bytes} byte event for ${event.topic} (maxEventBytes ${this.maxEventBytes})`,
            );
          }
          continue;
        }
      }
      const size = event.bytes ?? 0;
      if (batch.length > 0 && bytes + size > this.maxBatchBytes) {
        // Taken a moment ago, so there is room for them at the head again.
        this.queue.putBack(taken.slice(i));
        break;
      }
      batch.push(event);
      bytes += size;
    }
    this.dropped += unsendable;
    return batch;
  }

  /** Never rejects: every outcome is accounted for here. */
  private async send(batch: PendingEvent[]): Promise<void> {
    if (batch.length === 0) {
      this.inflight = null; // everything taken was unsendable: no delivery attempt was made
      return;
    }
    try {
      const producer = await this.connectedProducer();
      await producer.sendBatch(groupByTopic(batch));
      if (this.inflight !== batch) return; // close() gave up on this batch and counted it
      this.inflight = null;
      this.published += batch.length;
      if (!this.healthy) this.log('info', `delivering again after ${this.failures} failed attempt(s)`);
      this.healthy = true;
      this.failures = 0;
    } catch (err) {
      const failure = classify(err);
      const connectFailed = !this.connected;
      if (connectFailed || failure === 'producer-state') await this.discardProducer();
      if (this.inflight !== batch) return;
      this.inflight = null;
      this.healthy = false;
      if (failure === 'rejected') {
        // Retrying cannot help; blocking on it would starve every event behind it.
        this.dropped += batch.length;
        this.log(
          'error',
          `the broker refused a batch of ${batch.length} event(s), dropped: ${describe(err)}`,
        );
        return;
      }
      this.failures++;
      if (this.failures === 1 || this.failures % 50 === 0) {
        this.log(
          'warn',
          `${connectFailed ? 'connect' : 'send'} failed (attempt ${this.failures}, ` +
            `${this.queue.length + batch.length} event(s) buffered): ${describe(err)}`,
        );
      }
      if (this.stopped) {
        this.dropped += batch.length;
        return;
      }
      const lost = this.queue.putBack(batch);
      if (lost > 0) {
        this.dropped += lost;
        this.noteOverflow(lost);
      }
    }
  }

  private afterSend(): void {
    if (this.stopped) return;
    if (this.droppingSince !== null && !this.queue.full) this.noteRoom();
    if (this.failures > 0) {
      if (this.closing) return; // close() paces its own retries
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.flush();
      }, jitter(this.backoff()));
      this.retryTimer.unref();
    } else if (this.queue.length > 0) {
      this.wake();
    }
  }

  private backoff(): number {
    return Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(this.failures - 1, 20));
  }

  private async connectedProducer(): Promise<BatchProducer> {
    this.producer ??= this.createProducer();
    if (!this.connected) {
      await this.producer.connect();
      this.connected = true;
    }
    return this.producer;
  }

  private async discardProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    this.connected = false;
    if (producer) await producer.disconnect().catch(() => undefined);
  }

  private async drainAndStop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + Math.max(0, timeoutMs);
    this.clearTimers();
    while ((this.queue.length > 0 || this.sending !== null) && Date.now() < deadline) {
      if (this.sending === null) this.flush();
      await within(this.sending, deadline - Date.now());
      if (this.failures > 0 && this.sending === null)
        await within(sleep(this.backoff()), deadline - Date.now());
    }
    this.stopped = true;
    this.clearTimers();
    const left = this.queue.clear() + (this.inflight?.length ?? 0);
    this.inflight = null; // a send still in flight is given up on: counted as dropped here, not later
    this.dropped += left;
    if (left > 0) this.log('warn', `closed with ${left} event(s) undelivered (counted as dropped)`);
    await within(this.discardProducer(), 2_000);
  }

  private noteOverflow(justDropped: number): void {
    if (this.droppingSince !== null) return;
    this.droppingSince = Date.now();
    this.dropsAtOverflow = this.dropped - justDropped;
    this.log(
      'warn',
      `buffer full (${this.queue.capacity} events); dropping events until the broker catches up`,
    );
  }

  private noteRoom(): void {
    const since = this.droppingSince ?? Date.now();
    this.log(
      'info',
      `buffer has room again; dropped ${this.dropped - this.dropsAtOverflow} event(s) ` +
        `in ${Date.now() - since} ms`,
    );
    this.droppingSince = null;
  }

  private clearLinger(): void {
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }

  private clearTimers(): void {
    this.clearLinger();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
  }
}

function groupByTopic(batch: readonly PendingEvent[]): TopicBatch[] {
  const byTopic = new Map<string, { key: string; value: Buffer }[]>();
  for (const event of batch) {
    let messages = byTopic.get(event.topic);
    if (!messages) byTopic.set(event.topic, (messages = []));
    messages.push({ key: event.key, value: event.encoded ?? NULL_JSON });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** The default producer: idempotent, one request in flight, kafkajs' retries kept short (see above). */
function createKafkajsProducer(options: KafkaConnectionOptions): BatchProducer {
  const producer = createKafka(options, 3).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: true,
    createPartitioner: rememberingPartitioner,
  });
  return {
    connect: () => producer.connect(),
    sendBatch: async (batch) => {
      await producer.sendBatch({
        acks: -1,
        topicMessages: batch.map(({ topic, messages }) => ({ topic, messages: [...messages] })),
      });
    },
    disconnect: () => producer.disconnect(),
  };
}

/**
 * kafkajs wraps errors (retries exhausted -> cause -> protocol error); the innermost protocol error decides.
 * Connection errors, timeouts and retriable protocol errors are transient.
 */
function classify(err: unknown): Failure {
  let failure: Failure = 'transient';
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const { type, retriable, name, cause } = e as {
      type?: unknown;
      retriable?: unknown;
      name?: unknown;
      cause?: unknown;
    };
    if (typeof type === 'string' && PRODUCER_STATE_ERRORS.has(type)) return 'producer-state';
    if (name === 'KafkaJSProtocolError' && retriable === false) failure = 'rejected';
    e = cause;
  }
  return failure;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message !== err.message
    ? `${err.message} (${cause.message})`
    : err.message;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Waits for `promise` (which must not reject) or `ms`, whichever comes first. */
async function within(promise: Promise<unknown> | null, ms: number): Promise<void> {
  if (!promise || ms <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
