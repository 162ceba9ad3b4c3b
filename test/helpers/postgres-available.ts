import pg from 'pg';
import { TEST_SERVER_URL } from './test-env.js';

/**
 * Whether the PostgreSQL server that `createTestEnv(..., { engine: 'postgres' })` uses (TEST_DATABASE_URL or
 * TEST_POSTGRES_URL) is set and answers. Never probes a server nobody named: the embedded run without
 * TEST_POSTGRES_URL uses no PostgreSQL server at all.
 */
export async function postgresAvailable(): Promise<boolean> {
  if (TEST_SERVER_URL === null) return false;
  const client = new pg.Client({ connectionString: TEST_SERVER_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
