import { createHash, randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ClientBase, Pool } from 'pg';

/**
 * Applies prisma/migrations the way `prisma migrate deploy` does, without Prisma's native schema
 * engine (which cannot be downloaded in air-gapped builds). The bookkeeping is Prisma's own
 * `_prisma_migrations` table, row for row, so a database set up here can later be handed to
 * `prisma migrate deploy` and the other way round.
 *
 * Two differences, both stricter than Prisma:
 * - an applied migration whose file changed since (checksum mismatch) stops the start-up; Prisma's
 *   deploy ignores edits, which hides a schema that no longer matches the files.
 * - each migration runs in an explicit transaction together with its bookkeeping row. When a script
 *   fails, nothing of it remains, so no "failed" row is written and a fixed file can simply be
 *   retried. (Prisma records the failure because on other databases DDL may have half-applied.)
 */

/** The advisory lock key Prisma Migrate takes ("a unique number we chose to identify Migrate"). */
export const PRISMA_MIGRATE_LOCK_KEY = 72707369;

/** Prisma's DDL for its bookkeeping table on PostgreSQL, verbatim (schema-engine postgres flavour). */
export const PRISMA_MIGRATIONS_TABLE_DDL = `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);
`;

/** Tables Prisma does not count when it decides whether a database without history is empty. */
const IGNORED_TABLES = new Set(['_prisma_migrations', 'spatial_ref_sys']);

/** Something to migrate: a pool (a client is borrowed for the run) or a connected client. */
export type MigrationTarget = Pool | ClientBase;

export interface ApplyMigrationsOptions {
  /** Folder of `<timestamp>_<name>/migration.sql` directories (see resolveMigrationsDir). */
  readonly migrationsDir: string;
  readonly log?: (message: string) => void;
  /** How long to wait for another migrator (or `prisma migrate deploy`) to finish. Default 60 s. */
  readonly lockTimeoutMs?: number;
}

export interface MigrationFile {
  /** Directory name, e.g. `20261130000000_init`. Migrations apply in name order. */
  readonly name: string;
  readonly script: string;
  /** sha256 of migration.sql's bytes, lowercase hex: what Prisma stores in `checksum`. */
  readonly checksum: string;
}

/** A row of `_prisma_migrations`. */
export interface MigrationRecord {
  readonly id: string;
  readonly checksum: string;
  readonly finishedAt: Date | null;
  readonly migrationName: string;
  readonly logs: string | null;
  readonly rolledBackAt: Date | null;
  readonly startedAt: Date;
  readonly appliedStepsCount: number;
}

export type MigrationErrorCode =
  | 'MIGRATIONS_DIR_INVALID'
  | 'PROVIDER_MISMATCH'
  | 'DATABASE_NOT_EMPTY'
  | 'FAILED_MIGRATION_RECORDED'
  | 'CHECKSUM_MISMATCH'
  | 'MIGRATION_FAILED'
  | 'LOCK_TIMEOUT';

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function migrationChecksum(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Prisma's own comparison: a checksum also matches the script with LF/CRLF line endings swapped
 * (git may convert them on checkout), and early Prisma versions wrote hex without zero padding.
 */
export function scriptMatchesChecksum(script: string, checksum: string): boolean {
  const variants = [script, script.replace(/\r\n/g, '\n'), script.replace(/\r?\n/g, '\r\n')];
  return variants.some((variant) => {
    const digest = createHash('sha256').update(variant, 'utf8').digest();
    if (checksum.length !== 64) return [...digest].map((b) => b.toString(16)).join('') === checksum;
    return digest.toString('hex') === checksum;
  });
}

/** Reads the migration directories in the order Prisma applies them (by name). */
export async function readMigrations(migrationsDir: string): Promise<MigrationFile[]> {
  let entries;
  try {
    entries = await readdir(migrationsDir, { withFileTypes: true });
  } catch (err) {
    throw new MigrationError(
      'MIGRATIONS_DIR_INVALID',
      `cannot read migrations directory ${migrationsDir}: ${String(err)}`,
      { cause: err },
    );
  }
  const lockFile = entries.find((e) => e.isFile() && e.name === 'migration_lock.toml');
  if (lockFile) {
    const provider = /^\s*provider\s*=\s*"([^"]*)"/m.exec(
      await readFile(join(migrationsDir, lockFile.name), 'utf8'),
    )?.[1];
    if (provider !== undefined && provider !== 'postgresql') {
      throw new MigrationError(
        'PROVIDER_MISMATCH',
        `${join(migrationsDir, lockFile.name)} says provider "${provider}", but this migrator only applies PostgreSQL migrations`,
      );
    }
  }
  const dirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const migrations: MigrationFile[] = [];
  for (const name of dirs) {
    const file = join(migrationsDir, name, 'migration.sql');
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new MigrationError(
        'MIGRATIONS_DIR_INVALID',
        `migration ${name} has no readable migration.sql (${file})`,
        { cause: err },
      );
    }
    migrations.push({ name, script: bytes.toString('utf8'), checksum: migrationChecksum(bytes) });
  }
  return migrations;
}

/**
 * Applies the pending migrations, each in its own transaction, under Prisma Migrate's advisory lock
 * (so two control planes starting together, or one racing `prisma migrate deploy`, apply each
 * migration once). Refuses to touch a database whose history shows a failed migration, an applied
 * migration whose file has since been edited, or tables but no migration history.
 */
export async function applyMigrations(
  target: MigrationTarget,
  options: ApplyMigrationsOptions,
): Promise<{ applied: string[] }> {
  const log = options.log ?? (() => undefined);
  const migrations = await readMigrations(options.migrationsDir);
  const borrowed = isPool(target) ? await target.connect() : null;
  const client: ClientBase = borrowed ?? (target as ClientBase);
  let broken: Error | undefined;
  try {
    await acquireLock(client, options.lockTimeoutMs ?? 60_000);
    try {
      return await applyLocked(client, migrations, log);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]).catch((err: Error) => {
        broken = err;
      });
    }
  } finally {
    // A client whose unlock failed may still hold the lock: destroy it rather than pool it.
    borrowed?.release(broken);
  }
}

function isPool(target: MigrationTarget): target is Pool {
  return typeof (target as Pool).totalCount === 'number' && typeof (target as Pool).connect === 'function';
}

async function acquireLock(client: ClientBase, timeoutMs: number): Promise<void> {
  // A session-level lock taken inside a transaction outlives its commit; SET LOCAL bounds the wait
  // without changing the session's settings.
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (pgCode(err) === '55P03') {
      throw new MigrationError(
        'LOCK_TIMEOUT',
        `another migration run held the migration lock (pg_advisory_lock ${PRISMA_MIGRATE_LOCK_KEY}) for more than ${timeoutMs} ms`,
        { cause: err },
      );
    }
    throw err;
  }
}

async function applyLocked(
  client: ClientBase,
  migrations: readonly MigrationFile[],
  log: (message: string) => void,
): Promise<{ applied: string[] }> {
  await ensureMigrationsTable(client);
  const records = await listMigrationRecords(client);

  const failed = records.filter((r) => r.finishedAt === null && r.rolledBackAt === null);
  if (failed.length > 0) {
    const details = failed
      .map(
        (r) =>
          `- ${r.migrationName} (started ${r.startedAt.toISOString()})${r.logs?.trim() ? `:\n${r.logs.trim()}` : ''}`,
      )
      .join('\n');
    throw new MigrationError(
      'FAILED_MIGRATION_RECORDED',
      `the database records failed migrations; fix the database by hand, then mark them rolled back ` +
        `(\`prisma migrate resolve --rolled-back <name>\`, or UPDATE _prisma_migrations SET rolled_back_at = now() WHERE id = '<id>') and restart:\n${details}`,
    );
  }

  const applied = records.filter((r) => r.finishedAt !== null && r.rolledBackAt === null);
  const files = new Map(migrations.map((m) => [m.name, m]));
  const edited = applied.flatMap((r) => {
    const file = files.get(r.migrationName);
    return file && !scriptMatchesChecksum(file.script, r.checksum) ? [{ record: r, file }] : [];
  });
  if (edited.length > 0) {
    const details = edited
      .map(
        ({ record, file }) =>
          `- ${record.migrationName}: applied with checksum ${record.checksum}, the file now has ${file.checksum}`,
      )
      .join('\n');
    throw new MigrationError(
      'CHECKSUM_MISMATCH',
      `applied migrations were edited afterwards; restore the files as they were applied and put changes in a new migration:\n${details}`,
    );
  }

  const appliedNames = new Set(applied.map((r) => r.migrationName));
  for (const name of appliedNames) {
    if (!files.has(name))
      log(
        `migration ${name} is recorded in the database but not in the migrations directory (database newer than this build?)`,
      );
  }

  const pending = migrations.filter((m) => !appliedNames.has(m.name));
  if (pending.length === 0) {
    log(`database schema is up to date (${applied.length} migrations applied)`);
    return { applied: [] };
  }
  const done: string[] = [];
  for (const migration of pending) {
    const started = Date.now();
    log(`applying migration ${migration.name}`);
    await applyOne(client, migration);
    log(`applied migration ${migration.name} in ${Date.now() - started} ms`);
    done.push(migration.name);
  }
  return { applied: done };
}

async function ensureMigrationsTable(client: ClientBase): Promise<void> {
  // Prisma looks for the table in the connection's schema (search_path) and creates it unqualified.
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname = current_schema()`,
  );
  const tables = rows.map((r) => r.name);
  if (tables.includes('_prisma_migrations')) return;
  const foreign = tables.filter((t) => !IGNORED_TABLES.has(t));
  if (foreign.length > 0) {
    throw new MigrationError(
      'DATABASE_NOT_EMPTY',
      `the database schema is not empty (tables: ${foreign.slice(0, 10).join(', ')}${foreign.length > 10 ? ', …' : ''}) but has no migration history (_prisma_migrations); ` +
        `baseline it (https://pris.ly/d/migrate-baseline) or point Aviary at an empty database`,
    );
  }
  await client.query(PRISMA_MIGRATIONS_TABLE_DDL);
}

export async function listMigrationRecords(client: Pick<ClientBase, 'query'>): Promise<MigrationRecord[]> {
  const { rows } = await client.query<{
    id: string;
    checksum: string;
    finished_at: Date | null;
    migration_name: string;
    logs: string | null;
    rolled_back_at: Date | null;
    started_at: Date;
    applied_steps_count: number;
  }>(
    `SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count
       FROM _prisma_migrations ORDER BY started_at`,
  );
  return rows.map((r) => ({
    id: r.id,
    checksum: r.checksum,
    finishedAt: r.finished_at,
    migrationName: r.migration_name,
    logs: r.logs,
    rolledBackAt: r.rolled_back_at,
    startedAt: r.started_at,
    appliedStepsCount: r.applied_steps_count,
  }));
}

async function applyOne(client: ClientBase, migration: MigrationFile): Promise<void> {
  const id = randomUUID();
  await client.query('BEGIN');
  try {
    // The row Prisma writes: started, then one successful step, then finished; logs stay NULL.
    await client.query(
      'INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, clock_timestamp(), $3)',
      [id, migration.checksum, migration.name],
    );
    // No parameters: the simple query protocol runs the whole multi-statement script, as Prisma does.
    await client.query(migration.script);
    await client.query(
      'UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1 WHERE id = $1',
      [id],
    );
    await client.query('UPDATE _prisma_migrations SET finished_at = clock_timestamp() WHERE id = $1', [id]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new MigrationError(
      'MIGRATION_FAILED',
      `migration ${migration.name} failed and was rolled back: ${describePgError(err, migration.script)}`,
      { cause: err },
    );
  }
}

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The database's message with its SQLSTATE and the offending line of the script. */
function describePgError(err: unknown, script: string): string {
  const e = err as { message?: string; code?: string; position?: string; detail?: string; hint?: string };
  let text = `${e.message ?? String(err)}${e.code ? ` (SQLSTATE ${e.code})` : ''}`;
  if (e.detail) text += `\n  detail: ${e.detail}`;
  if (e.hint) text += `\n  hint: ${e.hint}`;
  const position = Number(e.position);
  if (Number.isInteger(position) && position > 0) {
    const before = script.slice(0, position - 1);
    const lineNumber = before.split('\n').length;
    const line = script.split('\n')[lineNumber - 1] ?? '';
    text += `\n  at migration.sql line ${lineNumber}: ${line.trim()}`;
  }
  return text;
}

/**
 * Where the migrations are: `AVIARY_MIGRATIONS_DIR` if set, otherwise the nearest `prisma/migrations`
 * above this file. That finds the repository's folder from the TypeScript sources (jest) and from
 * the compiled output (dist/libs/persistence/src/), and from an image that ships prisma/ beside dist/.
 */
export function resolveMigrationsDir(
  env: NodeJS.ProcessEnv = process.env,
  startDir: string = __dirname,
): string {
  const override = env['AVIARY_MIGRATIONS_DIR'];
  if (override) {
    const dir = resolve(override);
    if (!isDirectory(dir))
      throw new MigrationError(
        'MIGRATIONS_DIR_INVALID',
        `AVIARY_MIGRATIONS_DIR=${override} is not a directory`,
      );
    return dir;
  }
  for (let dir = resolve(startDir); ; dir = dirname(dir)) {
    const candidate = join(dir, 'prisma', 'migrations');
    if (isDirectory(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new MigrationError(
    'MIGRATIONS_DIR_INVALID',
    `no prisma/migrations directory above ${startDir}; set AVIARY_MIGRATIONS_DIR`,
  );
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}
