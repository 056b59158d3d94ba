import { randomUUID } from 'node:crypto';
import { createPrismaClient, type PrismaHandle } from '@aviary/persistence';
import { createTestDatabase, type TestDatabase } from '@aviary/testing';
import { NotificationDeliveryRepository } from './notification-delivery.repository';

// Two control-plane replicas claim due notifications from one table at the same time: each must be
// claimed by one of them only, or the receiver hears of it twice.

jest.setTimeout(60_000);

describe('claiming due notifications from two replicas', () => {
  let db: TestDatabase;
  let one: PrismaHandle;
  let two: PrismaHandle;

  beforeAll(async () => {
    db = await createTestDatabase();
    one = createPrismaClient({ url: db.url, poolMax: 4 });
    two = createPrismaClient({ url: db.url, poolMax: 4 });
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await db?.drop();
  });

  it('never hands one delivery to both, however their statements interleave', async () => {
    const destinations = await Promise.all(
      [0, 1, 2].map((i) =>
        one.prisma.notificationDestination.create({
          data: {
            id: randomUUID(),
            name: `d${i}`,
            type: 'webhook',
            url: 'http://127.0.0.1:9/',
            kinds: [],
            createdBy: 'test',
          },
        }),
      ),
    );
    const replicas = [one, two].map((h) => new NotificationDeliveryRepository(h.prisma));
    const claims = new Map<bigint, number>();
    let claimed = 0;
    for (let round = 0; round < 30; round++) {
      // 60 due deliveries, then both replicas claim in a tight loop (several claims in flight each)
      // until none is left.
      await one.prisma.notificationDelivery.createMany({
        data: Array.from({ length: 60 }, (_, i) => ({
          destinationId: destinations[i % 3]!.id,
          eventId: BigInt(round * 100 + i),
          kind: 'started',
          payload: {},
        })),
      });
      const claimer = async (repo: NotificationDeliveryRepository) => {
        for (;;) {
          const got = await repo.claimDue({ limit: 4, perDestination: 2, leaseMs: 60_000, busy: [] });
          if (got.length === 0) return;
          for (const d of got) claims.set(d.id, (claims.get(d.id) ?? 0) + 1);
        }
      };
      await Promise.all(replicas.flatMap((r) => [claimer(r), claimer(r), claimer(r)]));
      claimed += 60;
    }
    const twice = [...claims].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    expect(claims.size).toBe(claimed);
  });
});
