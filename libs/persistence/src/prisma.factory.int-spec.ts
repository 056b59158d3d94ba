import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@aviary/testing';
import { EMBEDDED_POOL_MAX, type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres';
import { applyMigrations, resolveMigrationsDir } from './migrator';
import { createPrismaClient, type PrismaHandle } from './prisma.factory';

// Issue 11.7: two queries shared one connection (pg's "Calling client.query() when the client is
// already executing a query" DeprecationWarning, an error in pg 9) whenever a transaction read a row
// with several relations — every rollout action in `npm start`. With deprecations thrown, the
// transaction below fails on a connection that is not serialised. (node warns once per process, so
// on unserialised connections the first of these tests fails and the second cannot.)

jest.setTimeout(120_000);

/** A model, two versions and a rollout, then the read every rollout action does in its transaction. */
async function readRolloutWithRelationsInTransaction({ prisma }: PrismaHandle): Promise<string> {
  const modelId = randomUUID();
  const [v1, v2] = [randomUUID(), randomUUID()];
  await prisma.$transaction(async (tx) => {
    await tx.model.create({ data: { id: modelId, name: `m-${modelId.slice(0, 8)}` } });
    for (const [id, status] of [
      [v1, 'stable'],
      [v2, 'registered'],
    ] as const) {
      await tx.modelVersion.create({
        data: {
          id,
          modelId,
          label: id.slice(0, 8),
          upstreamBaseUrl: 'http://x/v1',
          upstreamModel: 'x',
          timeoutMs: 1000,
          status,
        },
      });
    }
    await tx.model.update({ where: { id: modelId }, data: { stableVersionId: v1 } });
  });
  const rolloutId = randomUUID();
  await prisma.rollout.create({
    data: {
      id: rolloutId,
      modelId,
      baselineVersionId: v1,
      candidateVersionId: v2,
      phase: 'Pending',
      stepIndex: -1,
      plan: {},
      guardrails: {},
      active: true,
      createdBy: 'test',
    },
  });
  const read = await prisma.$transaction((tx) =>
    tx.rollout.findUniqueOrThrow({
      where: { id: rolloutId },
      include: {
        model: { select: { name: true } },
        baselineVersion: { select: { label: true } },
        candidateVersion: { select: { label: true } },
      },
    }),
  );
  return `${read.model.name}: ${read.candidateVersion.label} vs ${read.baselineVersion.label}`;
}

// jest's `process` is a copy; node's util.deprecate reads the real one (as `--throw-deprecation` sets it).
const realProcess = process.getBuiltinModule('node:process');

describe(createPrismaClient.name, () => {
  let throwDeprecation: boolean | undefined;
  beforeAll(() => {
    throwDeprecation = realProcess.throwDeprecation;
    realProcess.throwDeprecation = true;
  });
  afterAll(() => {
    realProcess.throwDeprecation = throwDeprecation ?? false;
  });

  it('never sends two queries at once on a transaction’s connection (PostgreSQL)', async () => {
    const db: TestDatabase = await createTestDatabase();
    const handle = createPrismaClient({ url: db.url, poolMax: 4 });
    try {
      await expect(readRolloutWithRelationsInTransaction(handle)).resolves.toMatch(/^m-\w+: \w+ vs \w+$/);
    } finally {
      await handle.close();
      await db.drop();
    }
  });

  it('never sends two queries at once on the embedded database’s one connection', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aviary-serial-'));
    let embedded: EmbeddedPostgres | undefined;
    let handle: PrismaHandle | undefined;
    try {
      embedded = await startEmbeddedPostgres({ dataDir: join(dir, 'pg') });
      handle = createPrismaClient({ url: embedded.url, poolMax: EMBEDDED_POOL_MAX });
      await applyMigrations(handle.pool, { migrationsDir: resolveMigrationsDir() });
      const h = handle;
      // Concurrent transactions and plain queries queue for the one connection as well.
      const results = await Promise.all([
        readRolloutWithRelationsInTransaction(h),
        readRolloutWithRelationsInTransaction(h),
        h.prisma.model.count(),
      ]);
      expect(results).toHaveLength(3);
    } finally {
      await handle?.close();
      await embedded?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
