import { databaseAddress, serverAddressOf } from '../../src/tenancy/placement/placement.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openCoreDb, type CoreDb } from '../../src/db/core-database.js';
import { createServerPool } from '../../src/db/pools.js';
import pg from 'pg';
import { boundedPool, endClient } from '../../src/db/query-deadline.js';
import { AppError } from '../../src/errors.js';
import { postgresConnector } from '../../src/tenancy/connections/connectors.js';
import { eventually } from '../helpers/load-loop.js';
import { startPrivateCluster } from '../helpers/pg-cluster.js';
import { adminQuery, createTestEnv, NEEDS_POSTGRES, type TestEnv } from '../helpers/test-env.js';

/**
 * Query deadlines on a real PostgreSQL server (in both test runs): a query that outlives its deadline is answered
 * 503 at once and its connection is cut, so the next request gets a fresh connection instead of one still
 * waiting for the old answer. `pg_sleep` stands in for a server that is slow or has stopped answering; the frozen
 * server itself is in test/robustness/db-faults.test.ts.
 */

const DEADLINE_MS = 300;

function assertDeadlineError(error: unknown): true {
  assert.ok(error instanceof AppError, String(error));
  assert.equal(error.statusCode, 503);
  assert.equal(error.code, 'SERVICE_UNAVAILABLE');
  assert.equal(error.headers['retry-after'], '5');
  assert.match(error.message, /did not answer within 300 ms/);
  return true;
}

/** How many sessions of `applicationName` the server has (to see a cut connection really end). */
async function sessions(applicationName: string): Promise<number> {
  const { rows } = await adminQuery(
    'select count(*)::int as n from pg_stat_activity where application_name = $1',
    [applicationName],
  );
  return (rows[0] as { n: number }).n;
}

describe('query deadlines (PostgreSQL)', { skip: NEEDS_POSTGRES }, () => {
  let env: TestEnv;
  let url: string;

  before(async () => {
    env = await createTestEnv({}, { engine: 'postgres' });
    url = env.config.databaseUrl as string;
  });
  after(async () => {
    await env.cleanup();
  });

  it('a pooled query past its deadline is refused with 503 at once, and its connection is discarded', async () => {
    const name = `deadline-${process.pid}-pool`;
    const pool = createServerPool(url, { max: 1, application_name: name });
    const bounded = boundedPool(pool, DEADLINE_MS);
    try {
      const client = await bounded.connect();
      const started = performance.now();
      await assert.rejects(client.query('select pg_sleep(3)', []), assertDeadlineError);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 1_500, `answered after ${Math.round(elapsed)} ms, not at the deadline`);
      client.release();
      // Not back in the pool: the one slot (max 1) is free for a new connection, which works.
      assert.equal(pool.totalCount, 0);
      const next = await bounded.connect();
      const { rows } = (await next.query('select 42 as answer', [])) as { rows: { answer: number }[] };
      assert.deepEqual(rows, [{ answer: 42 }]);
      next.release();
      // A query within the deadline keeps its connection for the next checkout.
      assert.equal(pool.totalCount, 1);
      assert.equal(pool.idleCount, 1);
      // The cut session really ends on the server: its backend notices the closed socket when pg_sleep returns.
      await eventually(async () => (await sessions(name)) === 1, 10_000, 'the cut session to end');
    } finally {
      await pool.end();
    }
  });

  it('a tenant connection past its deadline is refused with 503 and marked broken at once', async () => {
    const dbName = new URL(url).pathname.slice(1);
    const connector = postgresConnector(url, DEADLINE_MS);
    const connection = await connector.connect(databaseAddress(serverAddressOf(url), dbName));
    try {
      assert.equal(connection.broken, false);
      await connection.client.query('select 1');
      assert.equal(connection.broken, false, 'a fast query leaves the connection usable');
      await assert.rejects(connection.client.query('select pg_sleep(5)'), assertDeadlineError);
      // Broken before pg notices the closed socket: the connection manager must not hand it out again.
      assert.equal(connection.broken, true);
    } finally {
      await connection.close();
    }
  });

  it('0 means no deadline', async () => {
    const dbName = new URL(url).pathname.slice(1);
    const connection = await postgresConnector(url, 0).connect(databaseAddress(serverAddressOf(url), dbName));
    try {
      await connection.client.query('select pg_sleep(0.5)');
      assert.equal(connection.broken, false);
    } finally {
      await connection.close();
    }
  });

  describe('the core database', () => {
    let core: CoreDb;
    before(async () => {
      core = await openCoreDb({ ...env.config, databaseQueryTimeoutMs: DEADLINE_MS });
    });
    after(async () => {
      await core.close();
    });

    it('bounds request queries, not migrations (`unbounded`), on the same pool', async () => {
      await assert.rejects(sql`select pg_sleep(5)`.execute(core.db), assertDeadlineError);
      await sql`select pg_sleep(0.6)`.execute(core.unbounded);
      // Transactions too: the statement past the deadline fails the transaction with the same 503.
      await assert.rejects(
        core.db.transaction().execute(async (trx) => {
          await sql`select 1`.execute(trx);
          await sql`select pg_sleep(5)`.execute(trx);
        }),
        (error: unknown) => error instanceof AppError && error.statusCode === 503,
      );
      const { rows } = await sql<{ ok: number }>`select 1 as ok`.execute(core.db);
      assert.deepEqual(rows, [{ ok: 1 }]);
    });
  });

  it('closing a connection to a frozen server gives up after its grace period instead of waiting', async () => {
    const cluster = await startPrivateCluster();
    const clients = [0, 1].map(() => new pg.Client({ connectionString: cluster.url }));
    try {
      for (const client of clients) {
        client.on('error', () => undefined);
        await client.connect();
      }
      const [plain, bounded] = clients as [pg.Client, pg.Client];
      await cluster.freeze();
      // pg's end() waits for the server to close its side, which a frozen server never does.
      const plainEnded = plain.end().then(() => 'ended');
      const waited = await Promise.race([
        plainEnded,
        new Promise((r) => setTimeout(() => r('waiting'), 1_000)),
      ]);
      assert.equal(waited, 'waiting');
      const started = performance.now();
      await endClient(bounded, DEADLINE_MS);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 1_000, `closed after ${Math.round(elapsed)} ms`);
      await cluster.thaw();
      assert.equal(await plainEnded, 'ended');
    } finally {
      await cluster.destroy();
    }
  });
});
