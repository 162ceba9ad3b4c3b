import type { Duplex } from 'node:stream';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { AppError } from '../errors.js';

/**
 * Client-side query deadlines for connections to a PostgreSQL server.
 *
 * Why not pg's `query_timeout`: past it pg rejects the promise but leaves the query on the connection, which is
 * still waiting for the server's answer; the next query on that connection waits behind it, and a pool hands the
 * connection out again. Why not (only) `statement_timeout`: a server that has stopped answering (a frozen
 * process, a network partition that keeps the socket open) enforces nothing. So past the deadline the
 * connection itself is destroyed: the caller gets a 503 at once, pg fails whatever else was queued on it, and a
 * pool (or the tenant connection manager) discards it instead of reusing it.
 */

/** The 503 a request gets when the database did not answer in time. */
export function queryDeadlineExceeded(timeoutMs: number): AppError {
  return new AppError('SERVICE_UNAVAILABLE', `The database did not answer within ${timeoutMs} ms`, {
    headers: { 'retry-after': '5' },
  });
}

/** Cuts a client's socket; pg then marks it not queryable and fails its pending queries. */
function destroyConnection(client: pg.ClientBase): void {
  // `connection.stream` is pg's own handle on the socket (pg destroys it itself for a pipelined query_timeout).
  const { connection } = client as unknown as { connection?: { stream?: Duplex } };
  connection?.stream?.destroy();
}

/**
 * `client.query` bounded by `timeoutMs` (0: unbounded). Only for clients of a PostgreSQL server: an embedded
 * PGlite instance runs in this process and cannot stop answering on its own. `onDeadline` runs when the
 * connection is cut, so its owner stops handing it out at once (pg notices the closed socket only later).
 *
 * @example
 * const query = boundedQuery(client, 10_000);
 * await query('select 1'); // rejects with a 503 AppError, and closes the connection, past 10 s
 */
export function boundedQuery(
  client: pg.ClientBase,
  timeoutMs: number,
  onDeadline: () => void = () => undefined,
): (...args: unknown[]) => Promise<unknown> {
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  if (timeoutMs <= 0) return query;
  let cut = false;
  return (...args) => {
    // What follows on a cut connection (a transaction's ROLLBACK) fails at once with the same 503, rather than
    // with pg's "Connection terminated" a moment later.
    if (cut) return Promise.reject(queryDeadlineExceeded(timeoutMs));
    const pending = query(...args);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // The query fails too once its connection is gone ("Connection terminated"): already answered, ignore it.
        pending.catch(() => undefined);
        cut = true;
        destroyConnection(client);
        onDeadline();
        reject(queryDeadlineExceeded(timeoutMs));
      }, timeoutMs);
      pending.then(
        (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  };
}

/** A pooled client whose queries are bounded; `release()` puts it back, or destroys it if a deadline cut it. */
export interface BoundedClient {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** `broken`: destroy it rather than reuse it (as after a failed unlock). */
  release(broken?: boolean): void;
}

/** Checks a client out of `pool` with its queries bounded by `timeoutMs` (0: unbounded). */
export async function checkoutBounded(pool: pg.Pool, timeoutMs: number): Promise<BoundedClient> {
  const client = await pool.connect();
  let cut = false;
  const query = boundedQuery(client, timeoutMs, () => (cut = true));
  return {
    query: query as BoundedClient['query'],
    // Released with an error (or true), the pool destroys the client instead of putting it back in its idle list.
    release: (broken = false) => client.release(cut ? queryDeadlineExceeded(timeoutMs) : broken),
  };
}

/** One bounded query on a client of `pool`, released (or destroyed, if cut) afterwards. */
export async function queryBounded<R extends pg.QueryResultRow = pg.QueryResultRow>(
  pool: pg.Pool,
  timeoutMs: number,
  text: string,
  values?: unknown[],
): Promise<pg.QueryResult<R>> {
  const client = await checkoutBounded(pool, timeoutMs);
  try {
    return await client.query<R>(text, values);
  } finally {
    client.release();
  }
}

/**
 * A view of `pool` whose clients' queries are bounded by `timeoutMs`, for Kysely's PostgresDialect. A client
 * cut by its deadline is not queryable any more, so the pool drops it when it is released.
 */
export function boundedPool(pool: pg.Pool, timeoutMs: number): PostgresPool {
  return {
    // Kysely only calls query(sql, parameters) and release(); the cast spares restating pg's overloads.
    connect: async () => (await checkoutBounded(pool, timeoutMs)) as unknown as PostgresPoolClient,
    end: () => pool.end(),
  };
}

/** How long a closing connection may wait for the server to acknowledge before its socket is destroyed. */
const END_GRACE_MS = 2_000;

/**
 * `client.end()`, bounded: it waits for the server to close its side, which a frozen server never does; past
 * `graceMs` the socket is destroyed instead (the server forgets the session whenever it wakes up).
 */
export async function endClient(client: pg.Client, graceMs = END_GRACE_MS): Promise<void> {
  const ended = client.end().catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  try {
    if ((await Promise.race([ended, late])) === 'late') destroyConnection(client);
  } finally {
    clearTimeout(timer);
  }
}
