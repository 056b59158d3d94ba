import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from './generated/prisma/client';

export interface CreatePrismaClientOptions {
  /** A `postgresql://` URL (external PostgreSQL, or startEmbeddedPostgres().url). */
  readonly url: string;
  /** pg.Pool size; use EMBEDDED_POOL_MAX against the embedded database. */
  readonly poolMax: number;
  /** Receives errors of idle pooled connections (e.g. the server restarted) instead of crashing. */
  readonly log?: (message: string) => void;
  /** How long a query may wait for a free connection before failing. Default 30 s (pg: forever). */
  readonly connectionTimeoutMs?: number;
}

export interface PrismaHandle {
  readonly prisma: PrismaClient;
  /** The pool under the client, e.g. for applyMigrations. Ended by close(). */
  readonly pool: Pool;
  /** Disconnects Prisma and ends the pool. Idempotent. */
  close(): Promise<void>;
}

/** A Prisma client on @prisma/adapter-pg over a pg.Pool this handle owns. */
export function createPrismaClient(options: CreatePrismaClientOptions): PrismaHandle {
  if (!Number.isInteger(options.poolMax) || options.poolMax < 1)
    throw new RangeError(`poolMax must be a positive integer, got ${options.poolMax}`);
  const pool = new Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 30_000,
  });
  // Without a listener, an idle client's error (server gone) is an unhandled 'error' event.
  pool.on('error', (err) => options.log?.(`database connection error: ${err.message}`));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closing: Promise<void> | undefined;
  return {
    prisma,
    pool,
    close: () =>
      (closing ??= (async () => {
        try {
          await prisma.$disconnect();
        } finally {
          await pool.end();
        }
      })()),
  };
}
