import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';
import type { PgliteSettings } from '../config.js';

// int8 (bigint) → number: counts and ids stay far below 2^53, and clients expect JSON numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

/** Defaults shared by every server pool: fail fast instead of hanging when the server is gone. */
export const POOL_DEFAULTS = {
  connectionTimeoutMillis: 5_000,
  idleTimeoutMillis: 30_000,
} as const;

/**
 * A `pg.Pool` on a PostgreSQL server.
 *
 * @example
 * const pool = createServerPool('postgres://postgres@127.0.0.1/app', { max: 10 });
 */
export function createServerPool(url: string, options: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, ...POOL_DEFAULTS, max: 10, ...options });
  // An idle client losing its server (restart, pg_terminate_backend) emits 'error' on the pool;
  // unhandled, that would crash the process. The next checkout simply reconnects.
  pool.on('error', () => undefined);
  // A checked-out client has no pool listener: if its server goes away while it is checked out (between two
  // queries of a transaction, or as its query fails), it emits 'error' too, and an unhandled one kills the whole
  // process. The query in flight fails on its own (503), and the pool drops the client when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * A one-connection `pg.Pool` over an open PGlite instance, so that Kysely's PostgresDialect and every
 * query run unchanged on the embedded engine. The instance is owned by the caller.
 */
export function createPglitePool(pglite: PGlite): pg.Pool {
  const config = createPgConfig(pglite);
  // One shared in-process connection: never let the pool end it for idleness.
  return new pg.Pool({ ...config, max: 1, idleTimeoutMillis: 0, connectionTimeoutMillis: 30_000 });
}

export interface OpenPgliteOptions {
  /** A persistent data directory (created if missing); omitted: an in-memory database. */
  dataDir?: string;
}

/**
 * Opens a PGlite instance with this process's settings. Each instance is a whole PostgreSQL in its own WebAssembly
 * memory, and PostgreSQL fills its buffer pool there at start: with PostgreSQL's default 128 MB `shared_buffers` an
 * open instance held ~155 MB of RSS, with 16 MB ~40 MB (bench/embedded-memory.ts). Every PGlite of the server
 * goes through here, so none is started with the default.
 */
export async function openPglite(settings: PgliteSettings, options: OpenPgliteOptions = {}): Promise<PGlite> {
  return PGlite.create({
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${settings.sharedBuffersMb}MB`],
  });
}
