import type { CompiledQuery } from 'kysely';
import { sqlState } from '../errors.js';

/**
 * Statements that tenant connections run as named prepared statements: PostgreSQL parses and plans each once
 * per connection, then only binds and executes it. For the principal lookup of every authenticated tenant
 * request this was measured (bench/tenant-throughput.ts, same run) at 0.72 → 0.90 × the plain server with 10
 * warm tenants: the server process does the same work, but PostgreSQL, which shares the machine's cores with
 * it, does much less.
 *
 * A statement is known by its SQL text, which maps to one name everywhere (names are per connection in
 * PostgreSQL, so one name per text never clashes). Only statements registered here are prepared: a handful of
 * hot, fixed statements, not every query (each one prepared stays in every connection's memory).
 */
const names = new Map<string, string>();

/**
 * Registers a compiled query's SQL to run as a prepared statement on tenant connections that allow it (see
 * tenant-handle.ts), and returns the query unchanged.
 *
 * @example
 * const compiled = prepared(db.selectFrom('tenant_users').select(['id']).where('id', '=', 0).compile());
 */
export function prepared<R>(compiled: CompiledQuery<R>): CompiledQuery<R> {
  if (!names.has(compiled.sql)) names.set(compiled.sql, `tenantry_${names.size + 1}`);
  return compiled;
}

/** The statement name of a registered SQL text; undefined for any other query. */
export function preparedName(sql: unknown): string | undefined {
  return typeof sql === 'string' ? names.get(sql) : undefined;
}

/**
 * What a prepared statement answers once a migration has changed the type of a column it returns: its plan
 * cannot be replaced on that connection. The statement is then run unnamed there from then on.
 */
export function isStalePreparedPlan(error: unknown): boolean {
  return (
    sqlState(error) === '0A000' &&
    error instanceof Error &&
    error.message.includes('cached plan must not change result type')
  );
}
