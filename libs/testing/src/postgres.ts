import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Client } from 'pg';
import { applyMigrations, PRISMA_MIGRATIONS_TABLE_DDL, resolveMigrationsDir } from '@aviary/persistence';

/** What `bash scripts/services/postgres.sh --url` prints (trust auth on 127.0.0.1). */
const DEFAULT_ADMIN_URL = 'postgresql://aviary:aviary@127.0.0.1:54329/postgres';
/** Serialises template builds across jest workers and parallel runs ("avtp"). */
const TEMPLATE_LOCK_KEY = 0x61767470;

export interface TestDatabase {
  /** Connection URL of the new database. */
  readonly url: string;
  readonly name: string;
  /** Terminates its connections and drops it. Idempotent. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** `true`: an empty database (no migrations), e.g. to test the migrator itself. */
  readonly empty?: boolean;
}

/** The test server's admin URL: AVIARY_TEST_DATABASE_URL, else the one scripts/services/postgres.sh starts. */
export function testAdminUrl(): string {
  return process.env['AVIARY_TEST_DATABASE_URL'] || DEFAULT_ADMIN_URL;
}

/** `url` pointing at another database on the same server. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/**
 * A fresh database of its own for one test file: a copy of a migrated template (a file copy,
 * ~tens of ms), or an empty one. The template is named by a hash of prisma/migrations, so changing
 * a migration builds a new one; building happens once, under an advisory lock, however many jest
 * workers ask at the same time.
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = testAdminUrl();
  const template = options.empty ? null : await ensureTemplateDatabase(adminUrl);
  const name = `aviary_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withAdminClient(adminUrl, (admin) =>
    admin.query(`CREATE DATABASE ${quoteIdent(name)}${template ? ` TEMPLATE ${quoteIdent(template)}` : ''}`),
  );
  let dropping: Promise<void> | undefined;
  return {
    url: databaseUrl(adminUrl, name),
    name,
    drop: () =>
      (dropping ??= withAdminClient(adminUrl, async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      })),
  };
}

/** Builds (once) and returns the name of the migrated template database for the current migrations. */
export async function ensureTemplateDatabase(adminUrl: string = testAdminUrl()): Promise<string> {
  const migrationsDir = resolveMigrationsDir();
  // The bookkeeping DDL is part of the name too: a migrator change must not reuse old templates.
  const template = `aviary_tpl_${(await hashDirectory(migrationsDir, PRISMA_MIGRATIONS_TABLE_DDL)).slice(0, 16)}`;
  await withAdminClient(adminUrl, async (admin) => {
    await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
      if (rowCount) return;
      // Build under another name and rename when complete: a run killed halfway leaves no
      // half-migrated template behind, only a `_building` database the next build replaces.
      const building = `${template}_building`;
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(building)} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${quoteIdent(building)}`);
      const client = new Client({ connectionString: databaseUrl(adminUrl, building) });
      await client.connect();
      try {
        await applyMigrations(client, { migrationsDir });
      } finally {
        await client.end();
      }
      await admin.query(`ALTER DATABASE ${quoteIdent(building)} RENAME TO ${quoteIdent(template)}`);
      // A template nobody connects to can be copied by many CREATE DATABASE at once.
      await admin.query(
        `ALTER DATABASE ${quoteIdent(template)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`,
      );
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
    }
  });
  return template;
}

async function withAdminClient<T>(adminUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `cannot connect to the test PostgreSQL at ${redact(adminUrl)} (${String(err)}); start it with ` +
        '`bash scripts/services/postgres.sh`, or set AVIARY_TEST_DATABASE_URL to a superuser URL',
      { cause: err },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** sha256 over `salt` and every file's relative path and bytes, in a stable order. */
async function hashDirectory(dir: string, salt: string): Promise<string> {
  const hash = createHash('sha256').update(salt);
  const walk = async (current: string): Promise<void> => {
    const entries = (await readdir(current, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    for (const entry of entries) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile())
        hash
          .update(`${relative(dir, path)}\0`)
          .update(await readFile(path))
          .update('\0');
    }
  };
  await walk(dir);
  return hash.digest('hex');
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
