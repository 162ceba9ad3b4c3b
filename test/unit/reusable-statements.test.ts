import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type CompiledQuery,
  type DatabaseConnection,
  type Generated,
  type Insertable,
} from 'kysely';
import { compileOnly } from '../../src/db/compile-only.js';
import { preparedName } from '../../src/db/prepared-statements.js';
import { RowInserts, StatementPerHandle } from '../../src/db/reusable-statements.js';

interface Tables {
  unit_rows: { id: Generated<number>; name: string; note: string | null; at: Date };
}
type NewRow = Insertable<Tables['unit_rows']>;

const tables = compileOnly<Tables>();

/** Counts compilations, so a test can tell a reused statement from one compiled again. */
function countingInserts() {
  let compiled = 0;
  const inserts = new RowInserts<NewRow>((row) => {
    compiled++;
    return tables.insertInto('unit_rows').values(row).compile();
  });
  return { inserts, compilations: () => compiled };
}

function same(actual: CompiledQuery, expected: CompiledQuery): void {
  assert.equal(actual.sql, expected.sql);
  assert.deepEqual(actual.parameters, expected.parameters);
}

describe('RowInserts', () => {
  it('answers what Kysely compiles, compiling once per column list and registering it to run prepared', () => {
    const { inserts, compilations } = countingInserts();
    const at = new Date('2026-01-02T03:04:05Z');
    const rows: NewRow[] = [
      { id: 1, name: 'a', note: null, at },
      { id: 2, name: 'b', note: 'x', at },
      // Same columns in another order: another statement, parameters in that order.
      { name: 'c', id: 3, note: 'y', at },
      // An undefined value leaves its column out, as Kysely does.
      { id: 4, name: 'd', note: undefined, at },
      { id: 5, name: 'e', at },
    ];
    for (const row of rows) same(inserts.query(row), tables.insertInto('unit_rows').values(row).compile());
    // Three column lists: (id,name,note,at), (name,id,note,at), (id,name,at).
    assert.equal(compilations(), 3);
    assert.ok(preparedName(inserts.query({ id: 6, name: 'f', note: null, at }).sql));
  });

  it('compiles a row holding an expression as it is, every time, and never registers it', () => {
    const { inserts, compilations } = countingInserts();
    const row: NewRow = { id: 1, name: 'a', at: sql<Date>`now()` as unknown as Date };
    for (let i = 0; i < 2; i++) {
      const query = inserts.query(row);
      same(query, tables.insertInto('unit_rows').values(row).compile());
      assert.match(query.sql, /now\(\)/);
      assert.equal(preparedName(query.sql), undefined);
    }
    assert.equal(compilations(), 2);
  });
});

describe('StatementPerHandle', () => {
  /** A handle that compiles like PostgreSQL's and records what it is asked to run. */
  function recordingHandle() {
    const ran: CompiledQuery[] = [];
    const connection: DatabaseConnection = {
      executeQuery: (query) => {
        ran.push(query);
        return Promise.resolve({ rows: [] });
      },
      // eslint-disable-next-line require-yield
      streamQuery: async function* () {
        throw new Error('not used');
      },
    };
    const handle = new Kysely<Tables>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => ({
          init: () => Promise.resolve(),
          acquireConnection: () => Promise.resolve(connection),
          beginTransaction: () => Promise.resolve(),
          commitTransaction: () => Promise.resolve(),
          rollbackTransaction: () => Promise.resolve(),
          releaseConnection: () => Promise.resolve(),
          destroy: () => Promise.resolve(),
        }),
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
    });
    return { handle, ran };
  }

  it('compiles once per handle, runs the registered SQL with the parameters given, refuses a wrong count', async () => {
    let compiled = 0;
    const byName = new StatementPerHandle((db: Kysely<Tables>) => {
      compiled++;
      return db.selectFrom('unit_rows').select(['id']).where('name', '=', '').compile();
    });
    const first = recordingHandle();
    const second = recordingHandle();
    await byName.execute(first.handle, ['a']);
    await byName.execute(first.handle, ['b']);
    await byName.execute(second.handle, ['c']);
    assert.equal(compiled, 2);
    assert.deepEqual(
      [...first.ran, ...second.ran].map((query) => query.parameters),
      [['a'], ['b'], ['c']],
    );
    const text = first.ran[0]?.sql ?? '';
    assert.equal(text, 'select "id" from "unit_rows" where "name" = $1');
    assert.ok(preparedName(text));
    assert.throws(() => byName.execute(first.handle, ['a', 'b']), /takes 1 parameters, got 2/);
  });
});
