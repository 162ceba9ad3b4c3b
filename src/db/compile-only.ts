import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';

/**
 * A Kysely that builds and compiles PostgreSQL but holds no connection. It types queries over tables that share
 * one shape in two planes (e.g. the core's `refresh_tokens` and a tenant's `tenant_refresh_tokens`): the query is
 * written once, compiled here (the same compiler as PostgresDialect's, so the SQL is the same) and run through the
 * plane's own handle or transaction with `executeQuery`.
 *
 * @example
 * const tables = compileOnly<{ a: Row; b: Row }>();
 * const { rows } = await db.executeQuery(tables.selectFrom(name).selectAll().compile());
 */
export function compileOnly<DB>(): Kysely<DB> {
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
}
