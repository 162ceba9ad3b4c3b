import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { QueryClient } from '../../src/tenancy/connections/connection-manager.js';
import { isBound, queryBinding, type SchemaBinding } from '../../src/tenancy/connections/schema-binding.js';
import { sharedPlacement, type ServerAddress } from '../../src/tenancy/placement/placement.js';

/** A connection that records what it is sent; a simple-protocol message with several statements gets one result each. */
class RecordingClient implements QueryClient {
  readonly sent: { text: string; values: unknown }[] = [];
  failNext = false;

  async query(text: unknown, values?: unknown): Promise<unknown> {
    this.sent.push({ text: String(text), values });
    if (this.failNext) {
      this.failNext = false;
      throw new Error('permission denied');
    }
    const statements = values === undefined ? String(text).split('; ').length : 1;
    const results = Array.from({ length: statements }, (_, i) => ({ rows: [{ statement: i }] }));
    return statements === 1 ? results[0] : results;
  }
}

const SERVER = 'postgres://db:5432' as ServerAddress;
const tenant = (id: number): SchemaBinding => ({
  placement: sharedPlacement(SERVER, 'app_shared_1', `t_${id}`),
  role: `app_t_${id}`,
});
const PRINCIPAL = 'select "id", "email" from "tenant_users" where "id" = $1';

describe('binding a shared connection with its first query', () => {
  it('a SELECT with integer parameters goes out in the same message as the binding', async () => {
    const client = new RecordingClient();
    const result = await queryBinding(client, tenant(7), PRINCIPAL, [42]);
    assert.equal(client.sent.length, 1, 'one round trip');
    assert.equal(
      client.sent[0]?.text,
      'set role "app_t_7"; set search_path to "t_7"; deallocate all; ' +
        'select "id", "email" from "tenant_users" where "id" = 42',
    );
    assert.equal(client.sent[0]?.values, undefined, 'the simple protocol: no parameters');
    assert.deepEqual(result, { rows: [{ statement: 3 }] }, "the SELECT's result, not a SET's");
    assert.ok(isBound(client, tenant(7)));
    // The same tenant again: no binding at all.
    await queryBinding(client, tenant(7), PRINCIPAL, [43]);
    assert.deepEqual(client.sent[1], { text: PRINCIPAL, values: [43] });
  });

  it('anything else binds in a round trip of its own, then runs with its parameters', async () => {
    for (const [text, values] of [
      [PRINCIPAL, ['42']],
      ['select "id" from "tenant_users" where "email" = $1', ['a@example.com']],
      ['select "id" from "tenant_users" where "role" = \'owner\' and "id" = $1', [1]],
      ['select $$ $1 $$ as x, $1 as y', [1]],
      ['update "tenant_users" set "is_active" = false where "id" = $1', [5]],
      ['begin', []],
      ['select 1; select 2', []],
    ] as const) {
      const client = new RecordingClient();
      await queryBinding(client, tenant(7), text, values);
      assert.equal(client.sent.length, 2, text);
      assert.equal(client.sent[0]?.text, 'set role "app_t_7"; set search_path to "t_7"; deallocate all');
      assert.deepEqual(client.sent[1], { text, values }, text);
    }
  });

  it('a failing combined message leaves the connection bound to nothing known, so the next query binds again', async () => {
    const client = new RecordingClient();
    await queryBinding(client, tenant(1), PRINCIPAL, [1]);
    client.failNext = true;
    await assert.rejects(queryBinding(client, tenant(2), PRINCIPAL, [1]), /permission denied/);
    assert.equal(isBound(client, tenant(1)), false, 'its own SETs were rolled back with it: not tenant 2');
    assert.equal(isBound(client, tenant(2)), false);
    await queryBinding(client, tenant(1), PRINCIPAL, [1]);
    assert.match(client.sent[2]?.text ?? '', /^set role "app_t_1"/, 'tenant 1 is bound again, not assumed');
  });
});
