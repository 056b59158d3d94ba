import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EMBEDDED_POOL_MAX, type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres';
import { applyMigrations, resolveMigrationsDir } from './migrator';
import { isPrismaKnownError, isUniqueViolation } from './prisma.errors';
import { createPrismaClient, type PrismaHandle } from './prisma.factory';

jest.setTimeout(180_000);

const migrationsDir = resolveMigrationsDir();
const timing = (label: string, ms: number) => process.stdout.write(`[timing] ${label}: ${ms} ms\n`);

describe('startEmbeddedPostgres', () => {
  let dataDir: string;
  let db: EmbeddedPostgres | undefined;
  let client: PrismaHandle | undefined;

  beforeAll(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), 'aviary-embedded-')), 'pg');
  });
  afterEach(async () => {
    await client?.close();
    await db?.stop();
    client = undefined;
    db = undefined;
  });
  afterAll(async () => {
    await rm(join(dataDir, '..'), { recursive: true, force: true });
  });

  async function start(): Promise<PrismaHandle> {
    const started = Date.now();
    db = await startEmbeddedPostgres({ dataDir });
    timing('embedded start', Date.now() - started);
    client = createPrismaClient({ url: db.url, poolMax: EMBEDDED_POOL_MAX });
    return client;
  }

  it('runs the migrations and Prisma: CRUD, P2002, interactive transactions', async () => {
    const { prisma, pool } = await start();
    const migrated = Date.now();
    const { applied } = await applyMigrations(pool, { migrationsDir });
    timing('migrations on embedded', Date.now() - migrated);
    expect(applied.length).toBeGreaterThan(0);
    await expect(applyMigrations(pool, { migrationsDir })).resolves.toEqual({ applied: [] });

    const id = randomUUID();
    await prisma.model.create({ data: { id, name: 'gpt-support', description: 'support bot' } });
    await prisma.model.update({ where: { id }, data: { description: 'customer support bot' } });
    expect(await prisma.model.findUnique({ where: { id } })).toMatchObject({
      name: 'gpt-support',
      description: 'customer support bot',
    });

    const duplicate = await prisma.model
      .create({ data: { id: randomUUID(), name: 'gpt-support' } })
      .catch((err: unknown) => err);
    expect(isPrismaKnownError(duplicate, 'P2002')).toBe(true);
    expect(isUniqueViolation(duplicate)).toBe(true);
    expect(isUniqueViolation(duplicate, 'models_name_key')).toBe(true);
    expect(isUniqueViolation(duplicate, 'rollouts_one_active_per_model')).toBe(false);

    // Interactive transaction: committed together, or not at all.
    const versionId = randomUUID();
    await prisma.$transaction(async (tx) => {
      await tx.modelVersion.create({
        data: {
          id: versionId,
          modelId: id,
          label: 'v1',
          upstreamBaseUrl: 'http://127.0.0.1:1',
          upstreamModel: 'gpt-x',
          timeoutMs: 30_000,
          status: 'stable',
        },
      });
      await tx.model.update({ where: { id }, data: { stableVersionId: versionId } });
    });
    expect((await prisma.model.findUniqueOrThrow({ where: { id } })).stableVersionId).toBe(versionId);
    await expect(
      prisma.$transaction(async (tx) => {
        await tx.model.update({
          where: { id },
          data: { description: 'changed in a rolled back transaction' },
        });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect((await prisma.model.findUniqueOrThrow({ where: { id } })).description).toBe(
      'customer support bot',
    );

    // The hand-written partial unique index: one active rollout per model.
    const rollout = () =>
      prisma.rollout.create({
        data: {
          id: randomUUID(),
          modelId: id,
          baselineVersionId: versionId,
          candidateVersionId: versionId,
          phase: 'Pending',
          stepIndex: -1,
          plan: { steps: [] },
          guardrails: {},
          active: true,
          createdBy: 'test',
        },
      });
    await rollout();
    const second = await rollout().catch((err: unknown) => err);
    expect(isUniqueViolation(second, 'rollouts_one_active_per_model')).toBe(true);
  });

  it('finds the data again after a restart on the same directory', async () => {
    const { prisma } = await start();
    expect(await prisma.model.findUnique({ where: { name: 'gpt-support' } })).toMatchObject({
      description: 'customer support bot',
    });
    await expect(applyMigrations(client!.pool, { migrationsDir })).resolves.toEqual({ applied: [] });
  });

  it('queues concurrent requests and interactive transactions on its one connection', async () => {
    const { prisma } = await start();
    const started = Date.now();
    const names = Array.from({ length: 20 }, (_, i) => `concurrent-${i}`);
    await Promise.all(
      names.map((name, i) =>
        i % 2
          ? prisma.model.create({ data: { id: randomUUID(), name } })
          : prisma.$transaction(async (tx) => {
              const id = randomUUID();
              await tx.model.create({ data: { id, name } });
              await tx.model.update({ where: { id }, data: { description: 'in a transaction' } });
            }),
      ),
    );
    timing('20 concurrent writes (10 interactive transactions) on embedded', Date.now() - started);
    expect(await prisma.model.count({ where: { name: { in: names } } })).toBe(20);
  });

  it('keeps a second server off a data directory in use', async () => {
    await start();
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(
      /already open in this process|in use by process/,
    );
  });

  it('keeps out while another live process holds the directory, and takes over a dead one’s lock', async () => {
    const lockFile = join(dataDir, 'aviary-embedded.lock');
    const lock = (pid: number) =>
      writeFile(lockFile, JSON.stringify({ pid, hostname: hostname(), startedAt: new Date().toISOString() }));

    await lock(process.ppid);
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(`in use by process ${process.ppid}`);

    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    await lock(dead);
    const messages: string[] = [];
    db = await startEmbeddedPostgres({ dataDir, log: (m) => messages.push(m) });
    expect(messages.join('\n')).toContain(`removing stale lock ${lockFile} of process ${dead}`);
  });

  it('serves plain pg over TCP too', async () => {
    db = await startEmbeddedPostgres({ dataDir, transport: 'tcp' });
    expect(db.url).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ description: string }>(
        'SELECT description FROM models WHERE name = $1',
        ['gpt-support'],
      );
      expect(rows).toEqual([{ description: 'customer support bot' }]);
    } finally {
      await pg.end();
    }
  });
});
