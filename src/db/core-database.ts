import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import type { Config } from '../config.js';
import type { CoreDatabase } from './core-schema.js';
import { runChildProcessJob, siblingModule } from './child-process-job.js';
import { acquireDirLock } from './dir-lock.js';
import { createPglitePool, createServerPool, openPglite } from './pools.js';
import { boundedPool } from './query-deadline.js';

export type EngineKind = 'pglite' | 'postgres';

/** The open core database: a Kysely handle plus what operations need to check and close it. */
export interface CoreDb {
  readonly engine: EngineKind;
  /** For requests: on PostgreSQL each query is bounded by `DATABASE_QUERY_TIMEOUT_MS` (past it: 503). */
  readonly db: Kysely<CoreDatabase>;
  /** The same pool without query deadlines, for migrations (a long DDL statement is not an outage). */
  readonly unbounded: Kysely<CoreDatabase>;
  /** Resolves when the database answers a trivial query, rejects otherwise (for readiness checks). */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Where the embedded core database lives. */
export function pgliteCoreDir(config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'core');
}

/**
 * Opens the core database: PostgreSQL when `DATABASE_URL` is set, otherwise an embedded PGlite database
 * under `DATA_DIR/core` (created on first use, locked against a second process).
 */
export async function openCoreDb(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'databaseQueryTimeoutMs' | 'pglite'>,
): Promise<CoreDb> {
  if (config.databaseUrl) {
    const pool = createServerPool(config.databaseUrl, { max: 10, application_name: 'tenantry-core' });
    return wrap('postgres', pool, config.databaseQueryTimeoutMs, async () => undefined);
  }
  const dir = pgliteCoreDir(config);
  mkdirSync(config.dataDir, { recursive: true });
  const release = acquireDirLock(`${dir}.lock`);
  let pglite: PGlite;
  try {
    // First start: initdb runs in a child process, so the memory it needs leaves with it (child-process-job.ts).
    if (!existsSync(join(dir, 'PG_VERSION'))) {
      await runChildProcessJob(siblingModule(import.meta.url, 'pglite-initdb.child'), {
        dataDir: dir,
        settings: config.pglite,
      });
    }
    pglite = await openPglite(config.pglite, { dataDir: dir });
  } catch (error) {
    release();
    throw error;
  }
  const pool = createPglitePool(pglite);
  // PGlite runs in this process: a query cannot be cut short, and nothing can freeze it but this process.
  return wrap('pglite', pool, 0, async () => {
    try {
      await pglite.close();
    } finally {
      release();
    }
  });
}

function wrap(
  engine: EngineKind,
  pool: pg.Pool,
  queryTimeoutMs: number,
  afterPoolEnded: () => Promise<void>,
): CoreDb {
  const db = new Kysely<CoreDatabase>({
    dialect: new PostgresDialect({ pool: queryTimeoutMs > 0 ? boundedPool(pool, queryTimeoutMs) : pool }),
  });
  // Holds nothing of its own: closing `db` ends the shared pool.
  const unbounded = new Kysely<CoreDatabase>({ dialect: new PostgresDialect({ pool }) });
  let closing: Promise<void> | undefined;
  return {
    engine,
    db,
    unbounded,
    async ping(timeoutMs = 2_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([sql`select 1`.execute(db), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      // Kysely's destroy() ends the pool; PGlite (and its lock) are released after that.
      closing ??= db.destroy().finally(afterPoolEnded);
      return closing;
    },
  };
}
