import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import type { Config } from '../config.js';
import type { CoreDatabase } from './core-schema.js';
import { acquireDirLock } from './dir-lock.js';
import { createPglitePool, createServerPool, openPglite } from './pools.js';

export type EngineKind = 'pglite' | 'postgres';

/** The open core database: a Kysely handle plus what operations need to check and close it. */
export interface CoreDb {
  readonly engine: EngineKind;
  readonly db: Kysely<CoreDatabase>;
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
export async function openCoreDb(config: Config): Promise<CoreDb> {
  if (config.databaseUrl) {
    const pool = createServerPool(config.databaseUrl, { max: 10, application_name: 'tenantry-core' });
    return wrap('postgres', pool, async () => undefined);
  }
  const dir = pgliteCoreDir(config);
  mkdirSync(config.dataDir, { recursive: true });
  const release = acquireDirLock(`${dir}.lock`);
  let pglite: PGlite;
  try {
    pglite = await openPglite(dir);
  } catch (error) {
    release();
    throw error;
  }
  const pool = createPglitePool(pglite);
  return wrap('pglite', pool, async () => {
    try {
      await pglite.close();
    } finally {
      release();
    }
  });
}

function wrap(engine: EngineKind, pool: pg.Pool, afterPoolEnded: () => Promise<void>): CoreDb {
  const db = new Kysely<CoreDatabase>({ dialect: new PostgresDialect({ pool }) });
  let closing: Promise<void> | undefined;
  return {
    engine,
    db,
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
