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

/** Runs one statement on the PostgreSQL server's maintenance database. */
export async function adminQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('adminQuery needs TEST_DATABASE_URL');
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
 * core database, so test files and concurrent runs never collide.
 */
export async function createTestEnv(overrides: Record<string, string> = {}): Promise<TestEnv> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-test-'));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    SECRET_KEY: randomBytes(32).toString('hex'),
    AUTH_RATE_LIMIT: 'off',
    RATE_LIMIT: 'off',
    LOG_LEVEL: 'silent',
  };
  let database: string | undefined;
  if (TEST_ENGINE === 'postgres') {
    database = `tenantry_test_${randomBytes(5).toString('hex')}`;
    await adminQuery(`CREATE DATABASE "${database}"`);
    env.DATABASE_URL = databaseUrl(process.env.TEST_DATABASE_URL as string, database);
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
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
