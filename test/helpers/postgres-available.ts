import pg from 'pg';

/**
 * Whether the PostgreSQL server that `createTestEnv(..., { engine: 'postgres' })` uses answers. Tests that need
 * several processes on one database run in the PGlite run too, but are skipped (saying why) without a server.
 */
export async function postgresAvailable(): Promise<boolean> {
  const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
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
