import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompiledQuery } from 'kysely';
import { prepared, preparedName } from '../../src/db/prepared-statements.js';
import { preparingQuery } from '../../src/tenancy/connections/preparing-query.js';

/** A connection that records what it was sent and fails as told. */
function fakeConnection(fail: (query: unknown) => Error | null = () => null) {
  const sent: unknown[] = [];
  return {
    sent,
    client: {
      query: async (...args: unknown[]) => {
        sent.push(args.length === 1 ? args[0] : { text: args[0], values: args[1] });
        const error = fail(args[0]);
        if (error) throw error;
        return { rows: [] };
      },
    },
  };
}

function sqlError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const HOT = prepared(CompiledQuery.raw('select "id" from "unit_hot" where "id" = $1', []));

describe('preparingQuery', () => {
  it('names registered statements (one name per text) and sends everything else as it came', async () => {
    const name = preparedName(HOT.sql);
    assert.match(name ?? '', /^tenantry_\d+$/);
    assert.equal(
      preparedName(prepared(CompiledQuery.raw(HOT.sql, [])).sql),
      name,
      'registering again keeps the name',
    );
    assert.equal(preparedName('select 1'), undefined);
    const connection = fakeConnection();
    const query = preparingQuery(connection.client);
    await query(HOT.sql, [7]);
    await query('select 1', []);
    assert.deepEqual(connection.sent, [
      { name, text: HOT.sql, values: [7] },
      { text: 'select 1', values: [] },
    ]);
  });

  it('after a stale plan, runs the statement unnamed, on that connection only and from then on', async () => {
    const stale = fakeConnection((query) =>
      typeof query === 'object' ? sqlError('0A000', 'cached plan must not change result type') : null,
    );
    const query = preparingQuery(stale.client);
    assert.deepEqual(await query(HOT.sql, [1]), { rows: [] });
    await query(HOT.sql, [2]);
    assert.deepEqual(
      stale.sent.map((sent) => (sent as { name?: string }).name ?? 'unnamed'),
      [preparedName(HOT.sql), 'unnamed', 'unnamed'],
    );
    const other = fakeConnection();
    await preparingQuery(other.client)(HOT.sql, [3]);
    assert.equal(
      (other.sent[0] as { name?: string }).name,
      preparedName(HOT.sql),
      'other connections still prepare',
    );
  });

  it('passes any other error through, and keeps preparing', async () => {
    let calls = 0;
    const flaky = fakeConnection(() => (++calls === 1 ? sqlError('57014', 'canceling statement') : null));
    const query = preparingQuery(flaky.client);
    await assert.rejects(query(HOT.sql, [1]), /canceling statement/);
    await query(HOT.sql, [1]);
    assert.equal(flaky.sent.length, 2, 'no retry of a real failure');
    assert.equal((flaky.sent[1] as { name?: string }).name, preparedName(HOT.sql));
  });
});
