import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  buildNotification,
  nextRetry,
  type NotificationPayload,
  type RolloutPlan,
  subscribes,
} from '@aviary/domain';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { ControlPlaneMetrics } from '../metrics/control-plane.metrics';
import {
  type DestinationRecord,
  NotificationDestinationRepository,
} from './notification-destination.repository';
import {
  type ClaimedDelivery,
  type EventWithRollout,
  type NewDelivery,
  NotificationDeliveryRepository,
} from './notification-delivery.repository';
import { type DestinationType } from './notification.schemas';
import { WebhookSender } from './webhook-sender';

/**
 * Events younger than this are read again on every pass: a transaction that took its event id
 * earlier may commit later, and the cursor must not move past an event nobody has seen yet.
 */
const SETTLE_MS = 60_000;
const FAN_OUT_BATCH = 500;
const SEND_BATCH = 50;
/** Claimed per destination at a time: sent one after another, each bounded by the timeout. */
const PER_DESTINATION = 5;
/** Finished deliveries are kept this long for `GET …/deliveries`. */
const RETENTION_MS = 30 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;
/** Without destinations the cursor is moved up this often (there is nothing to send). */
const IDLE_ADVANCE_EVERY_MS = 30_000;

/**
 * Turns the decision log into notifications. The log (rollout_events, written in the same
 * transaction as every state change) is the outbox: a pass reads the events after a cursor, adds one
 * delivery per subscribed destination, then sends what is due with retries and backoff. Nothing on
 * a transition's path waits for it; a receiver that is down only delays its own deliveries.
 *
 * Safe with several control-plane replicas: one at a time reads the log (an advisory lock), and a
 * sender claims deliveries with FOR UPDATE SKIP LOCKED and a lease. At least once: a receiver may see
 * a notification twice (after a lease ran out mid-attempt) and dedupes by X-Aviary-Delivery.
 */
@Injectable()
export class NotificationDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(NotificationDispatcher.name);
  private readonly sender: WebhookSender;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private failing = false;
  private lastPrune = 0;
  private lastIdleAdvance = 0;
  private stopping = false;
  /** Destinations with a worker sending in this process, and that worker. */
  private readonly busy = new Map<string, Promise<void>>();

  constructor(
    private readonly deliveries: NotificationDeliveryRepository,
    private readonly destinations: NotificationDestinationRepository,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
    private readonly metrics: ControlPlaneMetrics,
  ) {
    this.sender = new WebhookSender(config.notifications.timeoutMs);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.pass().finally(() => (this.running = null));
    }, this.config.notifications.intervalMs);
    this.timer.unref();
  }

  /**
   * Stops promptly: attempts in flight are cut (recorded as failed, retried after the restart) and
   * claimed deliveries not yet tried are given back, so a hanging receiver cannot hold up a shutdown.
   */
  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.sender.destroy();
    await this.idle();
  }

  /** One round: read new events into deliveries, send what is due, now and then prune. */
  async pass(): Promise<void> {
    try {
      // Without destinations there is nothing to send (deliveries go with their destination).
      const any = await this.destinations.exists();
      await this.fanOut(any);
      if (any) await this.sendDue();
      if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
        this.lastPrune = Date.now();
        await this.deliveries.prune(new Date(Date.now() - RETENTION_MS));
      }
      if (this.failing) this.logger.log('notifications are being sent again');
      this.failing = false;
    } catch (err) {
      // Once per outage (the database, typically), not once per pass.
      if (!this.failing)
        this.logger.warn(
          `notification pass failed (will keep trying): ${err instanceof Error ? err.message : String(err)}`,
        );
      this.failing = true;
    }
  }

  /** Reads the decision log after the cursor into deliveries; returns how many were added. */
  async fanOut(any: boolean): Promise<number> {
    // With no destination nothing is owed: the cursor only needs to keep up, now and then, so that
    // a destination added later does not make the dispatcher read all of history first.
    if (!any && Date.now() - this.lastIdleAdvance < IDLE_ADVANCE_EVERY_MS) return 0;
    if (!any) this.lastIdleAdvance = Date.now();
    return this.deliveries.transaction(async (tx) => {
      if (!(await this.deliveries.tryLockFanOut(tx))) return 0;
      const settledBefore = await this.deliveries.dbNowMinus(tx, SETTLE_MS);
      const cursor = await this.deliveries.cursor(tx);
      let added = 0;
      let advanceTo: bigint;
      if (any) {
        const events = await this.deliveries.eventsAfter(tx, cursor, FAN_OUT_BATCH);
        if (events.length === 0) return 0;
        const destinations = await this.destinations.list(tx);
        added = await this.deliveries.insert(
          tx,
          events.flatMap((e) => this.owed(e, destinations)),
        );
        advanceTo = settledUpTo(events, cursor, settledBefore);
      } else {
        advanceTo = settledUpTo(
          await this.deliveries.eventTimesAfter(tx, cursor, FAN_OUT_BATCH),
          cursor,
          settledBefore,
        );
      }
      if (advanceTo > cursor) await this.deliveries.advanceCursor(tx, advanceTo);
      return added;
    });
  }

  /** The deliveries one event owes: to each destination for its model (or all) that wants its kind. */
  private owed(event: EventWithRollout, destinations: readonly DestinationRecord[]): NewDelivery[] {
    const r = event.rollout;
    // A destination hears about what happens after it was created, never the history before it.
    const targets = destinations.filter(
      (d) => (d.modelId === null || d.modelId === r.model.id) && d.createdAt <= event.createdAt,
    );
    if (targets.length === 0) return [];
    const payload = buildNotification(
      {
        id: event.id,
        at: event.createdAt,
        type: event.type,
        toPhase: event.toPhase,
        stepIndex: event.stepIndex,
        actor: event.actor,
        automatic: event.automatic,
        reason: event.reason,
        message: event.message,
        evidence: event.evidence,
        rollout: {
          id: r.id,
          model: r.model.name,
          baseline: r.baselineVersion.label,
          candidate: r.candidateVersion.label,
          plan: r.plan as unknown as RolloutPlan,
        },
      },
      this.config.publicUrl,
    );
    return targets
      .filter((d) => subscribes(d.kinds, payload.kind as Exclude<typeof payload.kind, 'test'>))
      .map((d) => ({ destinationId: d.id, eventId: event.id, rolloutId: r.id, kind: payload.kind, payload }));
  }

  /**
   * Claims what is due and sends it in the background: one worker per destination, in order, so a
   * receiver that hangs holds up only its own notifications. Returns how many were claimed.
   */
  async sendDue(): Promise<number> {
    const claimed = await this.deliveries.claimDue({
      limit: SEND_BATCH,
      perDestination: PER_DESTINATION,
      leaseMs: PER_DESTINATION * this.config.notifications.timeoutMs + 30_000,
      busy: [...this.busy.keys()],
    });
    if (claimed.length === 0) return 0;
    const byDestination = new Map<string, ClaimedDelivery[]>();
    for (const c of claimed)
      byDestination.set(c.destinationId, [...(byDestination.get(c.destinationId) ?? []), c]);
    const targets = new Map(
      (await this.destinations.findMany([...byDestination.keys()])).map((d) => [d.id, d]),
    );
    for (const [id, queue] of byDestination) {
      const d = targets.get(id);
      if (!d) continue; // deleted meanwhile: its deliveries went with it
      const worker = this.work(d, queue)
        .catch((err: unknown) =>
          this.logger.warn(
            `sending to ${d.name} failed: ${err instanceof Error ? err.message : String(err)}`,
          ),
        )
        .finally(() => this.busy.delete(id));
      this.busy.set(id, worker);
    }
    return claimed.length;
  }

  /** Waits for the deliveries being sent (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.busy.size > 0) await Promise.all(this.busy.values());
  }

  /** One destination's claimed deliveries, in order; after a failure the rest wait with it. */
  private async work(d: DestinationRecord, queue: readonly ClaimedDelivery[]): Promise<void> {
    for (const [i, c] of queue.entries()) {
      if (this.stopping) {
        await this.deliveries.release(
          queue.slice(i).map((r) => r.id),
          new Date(),
        );
        return;
      }
      const retryAt = await this.attempt(c, d);
      if (retryAt === undefined) continue;
      const rest = queue.slice(i + 1).map((r) => r.id);
      await this.deliveries.release(rest, retryAt ?? new Date());
      return;
    }
  }

  /** Sends one; returns undefined when delivered, else when it is retried (null: given up). */
  private async attempt(c: ClaimedDelivery, d: DestinationRecord): Promise<Date | null | undefined> {
    const type = d.type as DestinationType;
    const result = await this.sender.send(
      { type, url: d.url, secret: d.secret },
      c.payload as NotificationPayload,
      { deliveryId: c.id.toString() },
    );
    if (result.ok) {
      await this.deliveries.markDelivered(c.id, result.status);
      this.metrics.notifications.inc({ type, kind: c.kind, outcome: 'delivered' });
      return undefined;
    }
    const next = nextRetry(this.config.notifications.retry, c.attempts, Math.random(), result.retryAfterMs);
    const retryAt = next.retry ? new Date(Date.now() + next.delayMs) : null;
    await this.deliveries.markAttemptFailed(c.id, {
      httpStatus: result.status,
      error: result.error,
      retryAt,
    });
    this.metrics.notifications.inc({ type, kind: c.kind, outcome: next.retry ? 'retry' : 'failed' });
    if (!next.retry)
      this.logger.warn(
        `notification ${c.id} (${c.kind}) to ${d.name} failed after ${c.attempts} attempts: ${result.error}`,
      );
    return retryAt;
  }
}

/**
 * How far the cursor may move: to the last event of the unbroken run, from the start, of events
 * older than `settledBefore`. Younger ones are read again next time.
 */
function settledUpTo(
  events: readonly { readonly id: bigint; readonly createdAt: Date }[],
  cursor: bigint,
  settledBefore: Date,
): bigint {
  let upTo = cursor;
  for (const e of events) {
    if (e.createdAt > settledBefore) break;
    upTo = e.id;
  }
  return upTo;
}
