import type { PGlite as PGliteClass } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The pg.Pool size to use against the embedded database: 1.
 *
 * PGlite is one PostgreSQL backend. pglite-socket can accept several connections, but it multiplexes
 * them onto that single session message by message: connections share prepared statements, SET
 * values and advisory locks, and when a client's Parse/Bind/Execute batch arrives in more than one
 * TCP read (large parameters), another connection's Parse can run in between and the first
 * connection silently executes the other's statement (reproduced with 4 connections and 100 KB
 * parameters: wrong rows, no error). PGlite runs one query at a time anyway, so a larger pool buys
 * little (300 small queries: ~0.39 s with 1 connection, ~0.3 s with 4).
 */
export const EMBEDDED_POOL_MAX = 1;

export interface EmbeddedPostgresOptions {
  /** Where PGlite keeps its files; created if missing. Only one process may use it at a time. */
  readonly dataDir: string;
  readonly log?: (message: string) => void;
  /**
   * `unix` (default except on Windows): a socket in a private (0700) temp directory, so no other
   * local user can reach the database, which has no authentication. `tcp`: 127.0.0.1, a free port.
   */
  readonly transport?: 'unix' | 'tcp';
  /**
   * Connections the socket server accepts. Headroom over EMBEDDED_POOL_MAX so a pool reconnecting
   * (or an operator's psql) is not refused while an old socket is still closing; see
   * EMBEDDED_POOL_MAX for why only one of them should be busy at a time. Default 4.
   */
  readonly maxConnections?: number;
}

export interface EmbeddedPostgres {
  /** A `postgresql://` URL for pg and @prisma/adapter-pg. */
  readonly url: string;
  readonly dataDir: string;
  /** Closes connections, flushes and closes PGlite, releases the data directory. Idempotent. */
  stop(): Promise<void>;
}

// PGlite loads its WASM through dynamic import(), which jest's module sandbox refuses without
// --experimental-vm-modules (and jest hands out its own `module.createRequire`). Node's native
// require, reached through process.getBuiltinModule, loads it outside the sandbox; outside jest it
// is the same require as always.
const nativeRequire = process.getBuiltinModule('node:module').createRequire(__filename);
const { PGlite } = nativeRequire('@electric-sql/pglite') as { PGlite: typeof PGliteClass };

const LOCK_FILE = 'aviary-embedded.lock';
/** Data directories this process has open: a pid check alone cannot tell a restart in a container (same pid) from a double start. */
const openDataDirs = new Set<string>();

/**
 * Runs PostgreSQL (PGlite, compiled to WASM) in this process over the Postgres wire protocol, with
 * its data in `dataDir`. The first start on an empty directory runs initdb (a few seconds).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const releaseLock = lockDataDir(dataDir, log);

  const cleanups: Array<() => Promise<void>> = [() => Promise.resolve(releaseLock())];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse())
      await fn().catch((err: unknown) => log(`embedded PostgreSQL: cleanup failed: ${String(err)}`));
  };
  try {
    const started = Date.now();
    const db = await PGlite.create({ dataDir });
    cleanups.push(() => db.close());

    const transport = options.transport ?? (process.platform === 'win32' ? 'tcp' : 'unix');
    let socketDir: string | undefined;
    if (transport === 'unix') {
      socketDir = await mkdtemp(join(tmpdir(), 'aviary-pg-'));
      const dir = socketDir;
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
    }
    const server = new PGLiteSocketServer({
      db,
      maxConnections: options.maxConnections ?? 4,
      ...(socketDir ? { path: join(socketDir, '.s.PGSQL.5432') } : { host: '127.0.0.1', port: 0 }),
    });
    await server.start();
    cleanups.push(() => server.stop());

    const url = socketDir
      ? `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}`
      : `postgresql://postgres@${server.getServerConn()}/postgres`;
    log(`embedded PostgreSQL (PGlite) started in ${Date.now() - started} ms, data in ${dataDir}`);

    let stopping: Promise<void> | undefined;
    return {
      url,
      dataDir,
      stop: () => (stopping ??= cleanup().then(() => log('embedded PostgreSQL stopped'))),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * PGlite does not lock its data directory: two processes opening one directory both start and
 * overwrite each other's writes (observed: rows lost). A pid file keeps a second start out.
 */
function lockDataDir(dataDir: string, log: (message: string) => void): () => void {
  if (openDataDirs.has(dataDir))
    throw new Error(`embedded PostgreSQL: ${dataDir} is already open in this process`);
  const lockPath = join(dataDir, LOCK_FILE);
  const owner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      try {
        writeSync(fd, `${JSON.stringify(owner)}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const holder = readLock(lockPath);
      if (holder && isAlive(holder)) {
        throw new Error(
          `embedded PostgreSQL: ${dataDir} is in use by process ${holder.pid} on ${holder.hostname} (since ${holder.startedAt}); ` +
            `stop it first, or remove ${lockPath} if that process is gone`,
        );
      }
      log(`embedded PostgreSQL: removing stale lock ${lockPath}${holder ? ` of process ${holder.pid}` : ''}`);
      unlinkSync(lockPath);
    }
  }
  openDataDirs.add(dataDir);
  return () => {
    openDataDirs.delete(dataDir);
    try {
      if (readLock(lockPath)?.pid === process.pid) unlinkSync(lockPath);
    } catch {
      // Already gone.
    }
  };
}

interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt: string;
}

function readLock(path: string): LockOwner | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof parsed.pid === 'number'
      ? { pid: parsed.pid, hostname: String(parsed.hostname), startedAt: String(parsed.startedAt) }
      : null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  // Another machine's pid means nothing here; its lock is left over from a moved or shared volume.
  if (owner.hostname !== hostname()) return false;
  // Our own pid but not in openDataDirs: a previous incarnation of this container (pid 1 again).
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
