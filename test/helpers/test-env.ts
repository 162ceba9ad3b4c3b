import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config.js';

/** The engine this test run uses: PostgreSQL when TEST_DATABASE_URL is set, otherwise embedded PGlite. */
export const TEST_ENGINE: 'pglite' | 'postgres' = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';

export interface TestEnv {
  config: Config;
  /** Environment variables equivalent to `config`, for spawning the server or CLI as a child process. */
  env: Record<string, string>;
  /** Drops every database and directory this env created. */
  cleanup(): Promise<void>;
}

/**
 * The PostgreSQL server tests use: TEST_DATABASE_URL (the PostgreSQL run), else TEST_POSTGRES_URL (asked for in
 * the embedded run, for the few tests that need a server whatever the engine: several processes on one database,
 * PostgreSQL-only behaviour). Neither set: no test reaches a PostgreSQL server; those tests are skipped, saying so.
 */
export const TEST_SERVER_URL: string | null =
  process.env.TEST_DATABASE_URL || process.env.TEST_POSTGRES_URL || null;

/** Why a test that needs a PostgreSQL server is skipped in this run, or false when it runs. */
export const NEEDS_POSTGRES: string | false =
  TEST_SERVER_URL === null
    ? 'needs a PostgreSQL server: set TEST_POSTGRES_URL (or TEST_DATABASE_URL)'
    : false;

function serverUrl(): string {
  if (TEST_SERVER_URL === null) throw new Error(NEEDS_POSTGRES as string);
  return TEST_SERVER_URL;
}

/** Runs one statement on the PostgreSQL server's maintenance database. */
export async function adminQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const url = serverUrl();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A private environment for one test file: its own DATA_DIR, and on PostgreSQL its own uniquely named
 * core database, so test files and concurrent runs never collide. `engine: 'postgres'` forces a server
 * database even in the PGlite run, for what only makes sense with several processes on one database: on the
 * server of TEST_SERVER_URL (throws without one; such tests skip with NEEDS_POSTGRES).
 */
export async function createTestEnv(
  overrides: Record<string, string> = {},
  options: { engine?: 'pglite' | 'postgres' } = {},
): Promise<TestEnv> {
  const engine = options.engine ?? TEST_ENGINE;
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-test-'));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    SECRET_KEY: randomBytes(32).toString('hex'),
    AUTH_RATE_LIMIT: 'off',
    RATE_LIMIT: 'off',
    ORGANIZATION_RATE_LIMIT: 'off',
    LOG_LEVEL: 'silent',
  };
  let database: string | undefined;
  if (engine === 'postgres') {
    database = `tenantry_test_${randomBytes(5).toString('hex')}`;
    await adminQuery(`CREATE DATABASE "${database}"`);
    env.DATABASE_URL = databaseUrl(serverUrl(), database);
  }
  Object.assign(env, overrides);
  return {
    config: loadConfig(env),
    env,
    async cleanup() {
      if (database) {
        // Tenant databases are named after the core database, so one prefix finds everything this env made.
        const { rows } = await adminQuery(
          `SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`,
          [database, `${database}\\_%`],
        );
        for (const { datname } of rows as { datname: string }[]) {
          await adminQuery(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
        }
        // Shared tenants' roles belong to the server, not a database: named after the core database too.
        const roles = await adminQuery(`SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [
          `${database}\\_t\\_%`,
        ]);
        for (const { rolname } of roles.rows as { rolname: string }[]) {
          await adminQuery(`DROP ROLE IF EXISTS "${rolname}"`);
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
