import { CompiledQuery, type Kysely, type QueryResult } from 'kysely';
import { prepared } from './prepared-statements.js';

/**
 * A query compiled once per handle with placeholder values, then run with the real ones as its parameters, and
 * registered to run as a prepared statement where the handle allows it (db/prepared-statements.ts). For the hot
 * queries of a request or a login: building and compiling them each time was a measurable share of the main
 * thread's work, and parsing and planning them each time a share of PostgreSQL's. Kept per handle (not one
 * global string) so that whatever a handle adds to its SQL stays that handle's own.
 *
 * `build` must put the parameters in the order `execute` passes them; a query whose compiled parameter count
 * differs from the count passed is refused, so a mismatch cannot go unnoticed.
 *
 * @example
 * const byEmail = new StatementPerHandle((db: Kysely<TenantDatabase>) =>
 *   db.selectFrom('tenant_users').selectAll().where('email', '=', '').compile());
 * const { rows } = await byEmail.execute(db, [email]);
 */
export class StatementPerHandle<DB, R> {
  private readonly compiled = new WeakMap<Kysely<DB>, CompiledQuery<R>>();

  constructor(private readonly build: (db: Kysely<DB>) => CompiledQuery<R>) {}

  execute(db: Kysely<DB>, parameters: unknown[]): Promise<QueryResult<R>> {
    let compiled = this.compiled.get(db);
    if (!compiled) {
      compiled = prepared(this.build(db));
      this.compiled.set(db, compiled);
    }
    if (compiled.parameters.length !== parameters.length)
      throw new Error(`statement takes ${compiled.parameters.length} parameters, got ${parameters.length}`);
    return db.executeQuery<R>(CompiledQuery.raw(compiled.sql, parameters));
  }
}

/**
 * The INSERT of one row, compiled once per column list and registered to run prepared; the row's values are its
 * parameters, in the order of its keys (the order Kysely compiles them in). Columns whose value is undefined are
 * left out, as Kysely leaves them out; a row holding a Kysely expression is compiled as it is. The first compilation of each column list is checked: if Kysely compiled
 * any other number of parameters than there are columns (a value it inlines or expands), that column list is
 * compiled afresh on every insert instead.
 *
 * @example
 * const inserts = new RowInserts((row: NewRow) => tables.insertInto('audit_events').values(row).compile());
 * await db.executeQuery(inserts.query(row));
 */
export class RowInserts<Row extends object> {
  /** SQL per column list; null when that list cannot be reused. */
  private readonly sqlByColumns = new Map<string, string | null>();

  constructor(private readonly compile: (row: Row) => CompiledQuery) {}

  query(row: Row): CompiledQuery {
    const values = row as Record<string, unknown>;
    const columns = Object.keys(values).filter((column) => values[column] !== undefined);
    // A Kysely expression (sql`now()`, a subquery) is compiled into the SQL, not passed as a parameter.
    if (columns.some((column) => isExpression(values[column]))) return this.compile(row);
    const key = columns.join(',');
    let sql = this.sqlByColumns.get(key);
    if (sql === undefined) {
      const compiled = this.compile(row);
      sql = compiled.parameters.length === columns.length ? prepared(compiled).sql : null;
      this.sqlByColumns.set(key, sql);
      return compiled;
    }
    if (sql === null) return this.compile(row);
    return CompiledQuery.raw(
      sql,
      columns.map((column) => values[column]),
    );
  }
}

function isExpression(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'toOperationNode' in value;
}
