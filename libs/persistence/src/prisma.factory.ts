import { PrismaPg } from '@prisma/adapter-pg';
import { Pool, type PoolClient } from 'pg';
import { PrismaClient } from './generated/prisma/client';

export interface CreatePrismaClientOptions {
  /** A `postgresql://` URL (external PostgreSQL, or startEmbeddedPostgres().url). */
  readonly url: string;
  /** pg.Pool size; use EMBEDDED_POOL_MAX against the embedded database. */
  readonly poolMax: number;
  /** Receives errors of idle pooled connections (e.g. the server restarted) instead of crashing. */
  readonly log?: (message: string) => void;
  /**
   * How long connecting, or waiting for a free pooled connection, may take before failing. Default
   * 5 s (pg's default is forever: a black-holed database host would hang every request).
   */
  readonly connectionTimeoutMs?: number;
  /**
   * How long a query may wait for its answer (client side, so it also holds when the host is frozen
   * and the server cannot cancel anything). Default 10 s; 0 = none.
   */
  readonly queryTimeoutMs?: number;
}

export const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 10_000;

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
  const queryTimeout = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const pool = new Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    ...(queryTimeout > 0 ? { query_timeout: queryTimeout } : {}),
    // A dead peer is noticed by the kernel eventually instead of never.
    keepAlive: true,
  });
  // Without a listener, an idle client's error (server gone) is an unhandled 'error' event.
  pool.on('error', (err) => options.log?.(`database connection error: ${err.message}`));
  pool.on('connect', serialiseQueries);
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

/**
 * Makes a pooled connection run its promise-style queries one after another.
 *
 * Inside an interactive transaction every query goes to one connection, and Prisma 7's query
 * interpreter fetches the relations of an `include` with Promise.all (its `join` node), so two
 * queries reach one pg Client at once: pg queues them itself but warns ("Calling client.query() when
 * the client is already executing a query is deprecated") and pg 9 will refuse. In `npm start` the
 * embedded database has a single connection, so every rollout action hit it. Upstream:
 * prisma/orm#29979 (open). Callback and submittable queries (pg-pool's own `pool.query`, cursors)
 * pass through: they already run on a connection nobody else holds.
 */
export function serialiseQueries(client: PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  let tail: Promise<unknown> = Promise.resolve();
  const serial = (...args: unknown[]): unknown => {
    const first = args[0] as { submit?: unknown } | null | undefined;
    if (typeof args.at(-1) === 'function' || typeof first?.submit === 'function') return query(...args);
    const run = () => query(...args) as Promise<unknown>;
    const result = tail.then(run, run);
    tail = result.catch(() => undefined);
    return result;
  };
  Object.assign(client, { query: serial });
}
