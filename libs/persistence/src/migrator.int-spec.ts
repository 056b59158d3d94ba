import { createHash } from 'node:crypto';
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { createTestDatabase, type TestDatabase } from '@aviary/testing';
import {
  applyMigrations,
  listMigrationRecords,
  MigrationError,
  PRISMA_MIGRATE_LOCK_KEY,
  readMigrations,
  resolveMigrationsDir,
} from './migrator';

jest.setTimeout(60_000);

const migrationsDir = resolveMigrationsDir();

describe('applyMigrations', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  async function emptyDatabase(): Promise<TestDatabase> {
    const db = await createTestDatabase({ empty: true });
    cleanups.push(() => db.drop());
    return db;
  }

  async function connect(url: string): Promise<Client> {
    const client = new Client({ connectionString: url });
    await client.connect();
    cleanups.push(() => client.end());
    return client;
  }

  function pool(url: string): Pool {
    const p = new Pool({ connectionString: url, max: 2 });
    cleanups.push(() => p.end());
    return p;
  }

  /** A private copy of prisma/migrations that a test may edit. */
  async function copyOfMigrations(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'aviary-migrations-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await cp(migrationsDir, dir, { recursive: true });
    return dir;
  }

  it('applies every migration to an empty database, in name order', async () => {
    const db = await emptyDatabase();
    const logs: string[] = [];
    const started = Date.now();
    const { applied } = await applyMigrations(pool(db.url), {
      migrationsDir,
      log: (m) => logs.push(m),
    });
    const elapsed = Date.now() - started;

    const expected = (await readMigrations(migrationsDir)).map((m) => m.name);
    expect(expected.length).toBeGreaterThan(0);
    expect(applied).toEqual(expected);
    expect(logs).toContain(`applying migration ${expected[0]}`);
    const client = await connect(db.url);
    const tables = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        '_prisma_migrations',
        'api_tokens',
        'flag_publications',
        'model_versions',
        'models',
        'rollout_events',
        'rollouts',
      ]),
    );
    process.stdout.write(`[timing] applyMigrations on an empty PostgreSQL database: ${elapsed} ms\n`);
  });

  it('applies nothing the second time', async () => {
    const db = await emptyDatabase();
    const p = pool(db.url);
    await applyMigrations(p, { migrationsDir });
    const logs: string[] = [];
    await expect(applyMigrations(p, { migrationsDir, log: (m) => logs.push(m) })).resolves.toEqual({
      applied: [],
    });
    expect(logs.join('\n')).toMatch(/up to date/);
    const records = await listMigrationRecords(await connect(db.url));
    expect(records).toHaveLength((await readMigrations(migrationsDir)).length);
  });

  it('writes _prisma_migrations exactly as prisma migrate deploy does', async () => {
    const db = await emptyDatabase();
    await applyMigrations(pool(db.url), { migrationsDir });
    const client = await connect(db.url);

    // The table: Prisma's DDL for PostgreSQL.
    const columns = await client.query<{
      column_name: string;
      data_type: string;
      len: number | null;
      is_nullable: string;
      column_default: string | null;
    }>(
      `SELECT column_name, data_type, character_maximum_length AS len, is_nullable, column_default
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns.rows).toEqual([
      { column_name: 'id', data_type: 'character varying', len: 36, is_nullable: 'NO', column_default: null },
      {
        column_name: 'checksum',
        data_type: 'character varying',
        len: 64,
        is_nullable: 'NO',
        column_default: null,
      },
      {
        column_name: 'finished_at',
        data_type: 'timestamp with time zone',
        len: null,
        is_nullable: 'YES',
        column_default: null,
      },
      {
        column_name: 'migration_name',
        data_type: 'character varying',
        len: 255,
        is_nullable: 'NO',
        column_default: null,
      },
      { column_name: 'logs', data_type: 'text', len: null, is_nullable: 'YES', column_default: null },
      {
        column_name: 'rolled_back_at',
        data_type: 'timestamp with time zone',
        len: null,
        is_nullable: 'YES',
        column_default: null,
      },
      {
        column_name: 'started_at',
        data_type: 'timestamp with time zone',
        len: null,
        is_nullable: 'NO',
        column_default: 'now()',
      },
      {
        column_name: 'applied_steps_count',
        data_type: 'integer',
        len: null,
        is_nullable: 'NO',
        column_default: '0',
      },
    ]);
    const pk = await client.query<{ def: string }>(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '_prisma_migrations'::regclass AND contype = 'p'`,
    );
    expect(pk.rows).toEqual([{ def: 'PRIMARY KEY (id)' }]);

    // The row: what Prisma writes after a successful migration.
    const [record] = await listMigrationRecords(client);
    const [file] = await readMigrations(migrationsDir);
    const bytes = await readFile(join(migrationsDir, file!.name, 'migration.sql'));
    expect(record).toMatchObject({
      migrationName: file!.name,
      checksum: createHash('sha256').update(bytes).digest('hex'),
      logs: null,
      rolledBackAt: null,
      appliedStepsCount: 1,
    });
    expect(record!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(record!.finishedAt!.getTime()).toBeGreaterThanOrEqual(record!.startedAt.getTime());
  });

  it('refuses to start when an applied migration was edited afterwards', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    const p = pool(db.url);
    await applyMigrations(p, { migrationsDir: dir });
    const [first] = await readMigrations(dir);
    await appendFile(join(dir, first!.name, 'migration.sql'), '\n-- an innocent-looking edit\n');

    const error = await applyMigrations(p, { migrationsDir: dir }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).code).toBe('CHECKSUM_MISMATCH');
    expect((error as MigrationError).message).toContain(first!.name);
    expect((error as MigrationError).message).toMatch(/edited/);
  });

  it('accepts a migration whose line endings git converted (as Prisma does)', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    const p = pool(db.url);
    await applyMigrations(p, { migrationsDir: dir });
    const [first] = await readMigrations(dir);
    const file = join(dir, first!.name, 'migration.sql');
    await writeFile(file, (await readFile(file, 'utf8')).replace(/\n/g, '\r\n'));

    await expect(applyMigrations(p, { migrationsDir: dir })).resolves.toEqual({ applied: [] });
  });

  it('refuses to start while a failed migration is recorded, until it is marked rolled back', async () => {
    const db = await emptyDatabase();
    const p = pool(db.url);
    await applyMigrations(p, { migrationsDir });
    // What `prisma migrate deploy` leaves behind when a script fails.
    await p.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, logs, started_at)
       VALUES ('00000000-0000-4000-8000-000000000001', 'abc', '29990101000000_broken', 'ERROR: syntax error', now())`,
    );

    const error = await applyMigrations(p, { migrationsDir }).catch((err: unknown) => err);
    expect((error as MigrationError).code).toBe('FAILED_MIGRATION_RECORDED');
    expect((error as MigrationError).message).toContain('29990101000000_broken');
    expect((error as MigrationError).message).toContain('ERROR: syntax error');

    await p.query(
      `UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '29990101000000_broken'`,
    );
    await expect(applyMigrations(p, { migrationsDir })).resolves.toEqual({ applied: [] });
  });

  it('rolls a failing migration back completely and names the line that failed', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    await mkdir(join(dir, '29990101000000_broken'));
    await writeFile(
      join(dir, '29990101000000_broken', 'migration.sql'),
      'CREATE TABLE "half_done" (id int);\nCREATE TABLE "typo" (id int,);\n',
    );
    const p = pool(db.url);

    const error = await applyMigrations(p, { migrationsDir: dir }).catch((err: unknown) => err);
    expect((error as MigrationError).code).toBe('MIGRATION_FAILED');
    expect((error as MigrationError).message).toMatch(/29990101000000_broken.*syntax error/s);
    expect((error as MigrationError).message).toContain('line 2: CREATE TABLE "typo"');

    // The earlier migration stays applied; the broken one left neither tables nor a failed row.
    const records = await listMigrationRecords(p);
    expect(records.map((r) => r.migrationName)).toEqual(
      (await readMigrations(migrationsDir)).map((m) => m.name),
    );
    const halfDone = await p.query(`SELECT to_regclass('half_done') AS t`);
    expect(halfDone.rows[0]).toEqual({ t: null });

    // Fixed file, next start: it applies.
    await writeFile(
      join(dir, '29990101000000_broken', 'migration.sql'),
      'CREATE TABLE "half_done" (id int);\n',
    );
    await expect(applyMigrations(p, { migrationsDir: dir })).resolves.toEqual({
      applied: ['29990101000000_broken'],
    });
  });

  it('refuses a database that has tables but no migration history', async () => {
    const db = await emptyDatabase();
    const p = pool(db.url);
    await p.query('CREATE TABLE someone_elses (id int)');
    const error = await applyMigrations(p, { migrationsDir }).catch((err: unknown) => err);
    expect((error as MigrationError).code).toBe('DATABASE_NOT_EMPTY');
    expect((error as MigrationError).message).toContain('someone_elses');
  });

  it('applies each migration once when two control planes start at the same time', async () => {
    const db = await emptyDatabase();
    const [a, b] = [pool(db.url), pool(db.url)];
    const results = await Promise.all([
      applyMigrations(a, { migrationsDir }),
      applyMigrations(b, { migrationsDir }),
    ]);

    const names = (await readMigrations(migrationsDir)).map((m) => m.name);
    expect(results.map((r) => r.applied).sort((x, y) => x.length - y.length)).toEqual([[], names]);
    const records = await listMigrationRecords(a);
    expect(records.map((r) => r.migrationName)).toEqual(names);
  });

  it('waits for the migration lock, and gives up after lockTimeoutMs', async () => {
    const db = await emptyDatabase();
    const holder = await connect(db.url);
    await holder.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);

    const error = await applyMigrations(pool(db.url), { migrationsDir, lockTimeoutMs: 300 }).catch(
      (err: unknown) => err,
    );
    expect((error as MigrationError).code).toBe('LOCK_TIMEOUT');

    const waiting = applyMigrations(pool(db.url), { migrationsDir });
    await new Promise((r) => setTimeout(r, 200));
    await holder.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
    await expect(waiting).resolves.toEqual({
      applied: (await readMigrations(migrationsDir)).map((m) => m.name),
    });
  });

  it('migrates through a connected pg.Client too', async () => {
    const db = await emptyDatabase();
    const client = await connect(db.url);
    const { applied } = await applyMigrations(client, { migrationsDir });
    expect(applied.length).toBeGreaterThan(0);
    // The client stays usable and no longer holds the lock.
    const lock = await client.query(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`,
    );
    expect(lock.rows[0]).toEqual({ n: 0 });
  });
});

describe('resolveMigrationsDir', () => {
  it('finds prisma/migrations above the sources and above a compiled dist folder', () => {
    const fromSource = resolveMigrationsDir({}, __dirname);
    expect(fromSource).toMatch(/prisma[\\/]migrations$/);
    expect(resolveMigrationsDir({}, join(fromSource, '..', '..', 'dist', 'libs', 'persistence', 'src'))).toBe(
      fromSource,
    );
  });

  it('prefers AVIARY_MIGRATIONS_DIR and rejects a missing one', () => {
    expect(resolveMigrationsDir({ AVIARY_MIGRATIONS_DIR: __dirname }, '/')).toBe(__dirname);
    expect(() => resolveMigrationsDir({ AVIARY_MIGRATIONS_DIR: join(__dirname, 'nope') })).toThrow(
      /AVIARY_MIGRATIONS_DIR/,
    );
  });
});
