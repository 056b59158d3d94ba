import { Inject, Injectable } from '@nestjs/common';
import { type Prisma, type PrismaClient } from '@aviary/persistence';
import { isUuid } from '../common/id.pipe';
import { PRISMA } from '../database/database.tokens';
import { type Db } from '../models/model.repository';

const destinationInclude = { model: { select: { id: true, name: true } } } as const;
export type DestinationRecord = Prisma.NotificationDestinationGetPayload<{
  include: typeof destinationInclude;
}>;

@Injectable()
export class NotificationDestinationRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  /** `ref` is a destination's name or id. */
  find(ref: string, db: Db = this.prisma): Promise<DestinationRecord | null> {
    return db.notificationDestination.findUnique({
      where: isUuid(ref) ? { id: ref.toLowerCase() } : { name: ref },
      include: destinationInclude,
    });
  }

  list(db: Db = this.prisma): Promise<DestinationRecord[]> {
    return db.notificationDestination.findMany({ include: destinationInclude, orderBy: { name: 'asc' } });
  }

  findMany(ids: readonly string[]): Promise<DestinationRecord[]> {
    return this.prisma.notificationDestination.findMany({
      where: { id: { in: [...ids] } },
      include: destinationInclude,
    });
  }

  async exists(): Promise<boolean> {
    return (await this.prisma.notificationDestination.findFirst({ select: { id: true } })) !== null;
  }

  create(db: Db, data: Prisma.NotificationDestinationUncheckedCreateInput): Promise<DestinationRecord> {
    return db.notificationDestination.create({ data, include: destinationInclude });
  }

  async delete(db: Db, id: string): Promise<boolean> {
    return (await db.notificationDestination.deleteMany({ where: { id } })).count === 1;
  }

  /** Deliveries per status, for the listing. */
  async deliveryCounts(): Promise<Map<string, Record<string, number>>> {
    const rows = await this.prisma.notificationDelivery.groupBy({
      by: ['destinationId', 'status'],
      _count: { _all: true },
    });
    const out = new Map<string, Record<string, number>>();
    for (const r of rows) {
      const counts = out.get(r.destinationId) ?? {};
      counts[r.status] = r._count._all;
      out.set(r.destinationId, counts);
    }
    return out;
  }

  transaction<T>(fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
    return this.prisma.$transaction(fn);
  }
}
