import {
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type KyselyPlugin,
  type QueryId,
  type QueryResult,
  type UnknownRow,
} from 'kysely';

/**
 * What the statements answer: `empty` (no rows, nothing affected), `one-row` (one row whose every column reads
 * '0', one row affected), or `empty-first` (the first statement nothing, every later one a row). Running a method
 * under each reaches both sides of most "was there a row?" branches, and "none, then one" paths (a token that
 * could not be used because it was used before).
 */
export type RowMode = 'empty' | 'one-row' | 'empty-first';

/** Whether the statement numbered `index` (from 0) of a run answers a row. */
function answersRow(mode: RowMode, index: number): boolean {
  return mode === 'one-row' || (mode === 'empty-first' && index > 0);
}

/** The SQL one run issued, in order (transaction control left out: begin, commit and rollback are not listed). */
export interface Recording {
  readonly statements: string[];
}

/** A row with any column: '0' is truthy as a value and 0 as a number, so both kinds of checks pass on to more SQL. */
const PLACEHOLDER_ROW: UnknownRow = new Proxy<UnknownRow>(
  {},
  {
    get: (_target, key) => (typeof key === 'string' && key !== 'then' && key !== 'toJSON' ? '0' : undefined),
  },
);

class RecordingConnection implements DatabaseConnection {
  constructor(
    private readonly recording: Recording,
    private readonly mode: RowMode,
    /** Per query, whether it answers a row (read by the placeholderRows plugin). */
    private readonly answered: WeakMap<QueryId, boolean>,
  ) {}

  async executeQuery(query: CompiledQuery): Promise<QueryResult<never>> {
    const row = answersRow(this.mode, this.recording.statements.length);
    this.recording.statements.push(query.sql);
    this.answered.set(query.queryId, row);
    return { rows: [], numAffectedRows: row ? 1n : 0n };
  }

  streamQuery(): AsyncIterableIterator<QueryResult<never>> {
    throw new Error('The SQL recorder does not stream');
  }
}

/** Compiles and records; never connects. Like Kysely's DummyDriver, transactions are no-ops. */
class RecordingDriver implements Driver {
  constructor(private readonly connection: RecordingConnection) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.connection;
  }
  async beginTransaction(): Promise<void> {}
  async commitTransaction(): Promise<void> {}
  async rollbackTransaction(): Promise<void> {}
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

/** Fills in the placeholder row after the driver answered (a plugin sees rows untyped, the driver cannot). */
function placeholderRows(answered: WeakMap<QueryId, boolean>): KyselyPlugin {
  return {
    transformQuery: (args) => args.node,
    transformResult: async ({ result, queryId }) =>
      answered.get(queryId) === true ? { ...result, rows: [PLACEHOLDER_ROW] } : result,
  };
}

/**
 * A Kysely that compiles as PostgresDialect does (the dialect of both engines) and records every statement
 * executed through it, query builders and raw `sql` templates alike, into `recording`.
 *
 * @example
 * const recording = { statements: [] };
 * await recordingKysely(recording, 'empty').selectFrom('t').selectAll().execute();
 * recording.statements; // ['select * from "t"']
 */
export function recordingKysely(recording: Recording, mode: RowMode): Kysely<unknown> {
  const answered = new WeakMap<QueryId, boolean>();
  const connection = new RecordingConnection(recording, mode, answered);
  return new Kysely<unknown>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new RecordingDriver(connection),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    plugins: [placeholderRows(answered)],
  });
}
