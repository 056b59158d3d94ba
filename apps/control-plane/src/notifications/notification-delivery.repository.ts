import { Inject, Injectable } from '@nestjs/common';
import { type Prisma, type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';
import { type Db } from '../models/model.repository';
import { type ListDeliveriesQuery } from './notification.schemas';

/** Held (per transaction) by the replica reading the decision log into deliveries ("avnt"). */
const FAN_OUT_LOCK_KEY = 0x61766e74;
const CURSOR = 'rollout_events';

const eventInclude = {
  rollout: {
    select: {
      id: true,
      plan: true,
      model: { select: { id: true, name: true } },
      baselineVersion: { select: { label: true } },
      candidateVersion: { select: { label: true } },
    },
  },
} as const;
export type EventWithRollout = Prisma.RolloutEventGetPayload<{ include: typeof eventInclude }>;

const deliveryInclude = { destination: { select: { id: true, name: true, type: true } } } as const;
export type DeliveryRecord = Prisma.NotificationDeliveryGetPayload<{ include: typeof deliveryInclude }>;

export interface NewDelivery {
  readonly destinationId: string;
  readonly eventId: bigint | null;
  readonly rolloutId: string | null;
  readonly kind: string;
  readonly payload: unknown;
}

/** A delivery a sender has claimed: its attempt counter already counts this attempt. */
export interface ClaimedDelivery {
  readonly id: bigint;
  readonly destinationId: string;
  readonly kind: string;
  readonly payload: unknown;
  readonly attempts: number;
}

@Injectable()
export class NotificationDeliveryRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  transaction<T>(fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
    return this.prisma.$transaction(fn);
  }

  /** One replica at a time reads the log into deliveries; the others skip this pass. */
  async tryLockFanOut(tx: Prisma.TransactionClient): Promise<boolean> {
    const rows = await tx.$queryRaw<{ locked: boolean }[]>`
      SELECT pg_try_advisory_xact_lock(${FAN_OUT_LOCK_KEY}::bigint) AS locked`;
    return rows[0]?.locked === true;
  }

  /** The database's clock (the one that stamped the events), minus `ms`. */
  async dbNowMinus(tx: Prisma.TransactionClient, ms: number): Promise<Date> {
    const rows = await tx.$queryRaw<{ at: Date }[]>`
      SELECT now() - (${ms}::int * interval '1 millisecond') AS at`;
    return rows[0]!.at;
  }

  /**
   * The id up to which every event has been read. The migration creates it at the newest event of
   * the time (no destination existed before); if it is missing all the same, reading starts at the
   * beginning: slower, never a notification lost (events older than a destination are skipped).
   */
  async cursor(tx: Prisma.TransactionClient): Promise<bigint> {
    const found = await tx.notificationCursor.findUnique({ where: { name: CURSOR } });
    if (found) return found.lastEventId;
    await tx.notificationCursor.create({ data: { name: CURSOR, lastEventId: 0n } });
    return 0n;
  }

  async advanceCursor(tx: Prisma.TransactionClient, to: bigint): Promise<void> {
    await tx.notificationCursor.update({ where: { name: CURSOR }, data: { lastEventId: to } });
  }

  /** Only the ids and times of the events after `after` (a primary-key range: cheap on any log size). */
  eventTimesAfter(
    tx: Prisma.TransactionClient,
    after: bigint,
    limit: number,
  ): Promise<{ id: bigint; createdAt: Date }[]> {
    return tx.rolloutEvent.findMany({
      where: { id: { gt: after } },
      orderBy: { id: 'asc' },
      take: limit,
      select: { id: true, createdAt: true },
    });
  }

  eventsAfter(tx: Prisma.TransactionClient, after: bigint, limit: number): Promise<EventWithRollout[]> {
    return tx.rolloutEvent.findMany({
      where: { id: { gt: after } },
      orderBy: { id: 'asc' },
      take: limit,
      include: eventInclude,
    });
  }

  /** Idempotent: a notification already owed for (destination, event) is not added twice. */
  async insert(db: Db, rows: readonly NewDelivery[]): Promise<number> {
    if (rows.length === 0) return 0;
    const res = await db.notificationDelivery.createMany({
      data: rows.map((r) => ({ ...r, payload: r.payload as Prisma.InputJsonValue })),
      skipDuplicates: true,
    });
    return res.count;
  }

  async create(row: NewDelivery): Promise<DeliveryRecord> {
    return this.prisma.notificationDelivery.create({
      data: { ...row, payload: row.payload as Prisma.InputJsonValue },
      include: deliveryInclude,
    });
  }

  /**
   * Claims due deliveries in one statement, oldest first: up to `perDestination` for each
   * destination not in `busy`, `limit` in all. Their next attempt moves `leaseMs` ahead, so no other
   * sender (another replica) takes them meanwhile, and ones whose sender died are tried again when
   * the lease runs out. No transaction stays open while a receiver is called.
   */
  async claimDue(opts: {
    limit: number;
    perDestination: number;
    leaseMs: number;
    busy: readonly string[];
  }): Promise<ClaimedDelivery[]> {
    // FOR UPDATE cannot sit beside a window function, so it locks in the outer query. The due
    // condition is repeated where the rows are locked and updated: a row another replica claimed
    // and committed after this statement's snapshot is locked all the same (SKIP LOCKED only skips
    // rows locked right now), and PostgreSQL re-checks only the locking level's own conditions on
    // its newest version; without them here the other replica's claim was claimed again and the
    // notification sent twice.
    const claimed = await this.prisma.$queryRaw<ClaimedDelivery[]>`
      UPDATE notification_deliveries
         SET next_attempt_at = now() + (${opts.leaseMs}::int * interval '1 millisecond'),
             attempts = attempts + 1,
             last_attempt_at = now()
       WHERE status = 'pending' AND next_attempt_at <= now() AND id IN (
         SELECT id FROM notification_deliveries
          WHERE status = 'pending' AND next_attempt_at <= now() AND id IN (
            SELECT id FROM (
              SELECT id, row_number() OVER (PARTITION BY destination_id ORDER BY id) AS n
                FROM notification_deliveries
               WHERE status = 'pending' AND next_attempt_at <= now()
                 AND NOT (destination_id = ANY(${[...opts.busy]}::uuid[]))
            ) due
             WHERE n <= ${opts.perDestination}
          )
          ORDER BY id
          LIMIT ${opts.limit}
          FOR UPDATE SKIP LOCKED)
      RETURNING id, destination_id AS "destinationId", kind, payload, attempts`;
    // RETURNING comes in no particular order; a destination's notifications go out oldest first.
    return claimed.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Gives back claimed deliveries that were not attempted, due again at `at`. */
  async release(ids: readonly bigint[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.prisma.notificationDelivery.updateMany({
      where: { id: { in: [...ids] }, status: 'pending' },
      data: { nextAttemptAt: at, attempts: { decrement: 1 } },
    });
  }

  async markDelivered(id: bigint, httpStatus: number): Promise<void> {
    await this.prisma.notificationDelivery.updateMany({
      where: { id },
      data: { status: 'delivered', deliveredAt: new Date(), lastStatus: httpStatus, lastError: null },
    });
  }

  /** A failed attempt: retried at `retryAt`, or given up (`failed`) when null. */
  async markAttemptFailed(
    id: bigint,
    result: { httpStatus: number | null; error: string; retryAt: Date | null },
  ): Promise<void> {
    await this.prisma.notificationDelivery.updateMany({
      where: { id },
      data: {
        lastStatus: result.httpStatus,
        lastError: result.error.slice(0, 1000),
        ...(result.retryAt ? { nextAttemptAt: result.retryAt } : { status: 'failed' }),
      },
    });
  }

  list(q: ListDeliveriesQuery, destinationId?: string): Promise<DeliveryRecord[]> {
    return this.prisma.notificationDelivery.findMany({
      where: {
        ...(destinationId ? { destinationId } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.before !== undefined ? { id: { lt: q.before } } : {}),
      },
      orderBy: { id: 'desc' },
      take: q.limit,
      include: deliveryInclude,
    });
  }

  /** Deliveries that are done (delivered or given up) and older than `before`. */
  async prune(before: Date): Promise<number> {
    const res = await this.prisma.notificationDelivery.deleteMany({
      where: { status: { in: ['delivered', 'failed'] }, createdAt: { lt: before } },
    });
    return res.count;
  }
}
