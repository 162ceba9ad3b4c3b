import { isStalePreparedPlan, preparedName } from '../../db/prepared-statements.js';
import type { QueryClient } from './connection-manager.js';

/** Connections where a prepared statement's plan went stale (a migration changed a column type): never again. */
const unpreparable = new WeakSet<QueryClient>();

/**
 * `client.query` of one physical connection that runs the registered statements (db/prepared-statements.ts) as
 * named prepared statements, and anything else as before. When a migration has changed what a prepared statement
 * returns, PostgreSQL refuses it on that connection for good; the query is then run again unnamed, as is every
 * later one on that connection.
 *
 * Only for connections that stay bound to one database and role: a shared schema's binding runs DEALLOCATE ALL,
 * which would pull the statements from under pg's record of what it has prepared.
 */
export function preparingQuery(raw: QueryClient): QueryClient['query'] {
  const plain = raw.query.bind(raw);
  return (text: unknown, values?: unknown) => {
    const name = unpreparable.has(raw) ? undefined : preparedName(text);
    if (name === undefined) return plain(text, values);
    return plain({ name, text, values }).catch((error: unknown) => {
      if (!isStalePreparedPlan(error)) throw error;
      unpreparable.add(raw);
      return plain(text, values);
    });
  };
}
