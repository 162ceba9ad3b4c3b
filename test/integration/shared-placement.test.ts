import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { sqlState } from '../../src/errors.js';
import { sharedPlacement, type TenantPlacement } from '../../src/tenancy/placement/placement.js';
import { call, ownerWithOrganization } from '../helpers/flows.js';
import { member } from '../helpers/isolation-world.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

interface OrgView {
  id: number;
  slug: string;
  placement: string;
  tenant_db_name: string;
}

/** Shared placement end to end: schemas in shared databases, bound to a role each, on the engine under test. */
describe('shared placement', () => {
  let t: TestApp;
  const orgs: OrgView[] = [];
  const placements: TenantPlacement[] = [];
  let ownerToken = '';

  before(async () => {
    // One connection per shared database (PostgreSQL; PGlite has one anyway): consecutive tenants share it.
    t = await createTestApp({
      TENANT_PLACEMENT: 'shared',
      TENANT_SHARED_PER_DATABASE: '2',
      TENANT_MAX_CONNECTIONS_PER_SHARED_DATABASE: '1',
    });
    const first = await ownerWithOrganization(t.app, 'shared-owner@example.com', 'Shared A', 'shared-a');
    ownerToken = first.owner.tokens.access_token;
    orgs.push(first.org as unknown as OrgView);
    for (const slug of ['shared-b', 'shared-c']) {
      const created = await call(t.app, 'POST', '/api/organizations', {
        token: ownerToken,
        body: { name: slug, slug },
      });
      assert.equal(created.statusCode, 201, created.body);
      orgs.push(created.json<OrgView>());
    }
    for (const org of orgs) {
      placements.push(sharedPlacement(t.app.services.store.server, org.tenant_db_name, `t_${org.id}`));
    }
  });
  after(() => t?.close());

  test('new organizations are shared, two per shared database, the third in the next one', () => {
    assert.deepEqual(
      orgs.map((org) => org.placement),
      ['shared', 'shared', 'shared'],
    );
    const store = t.app.services.store;
    assert.deepEqual(
      orgs.map((org) => org.tenant_db_name),
      [store.sharedDatabaseName(1), store.sharedDatabaseName(1), store.sharedDatabaseName(2)],
    );
  });

  test('each shared tenant has its own users: sign-up, login and /users/me', async () => {
    const a = await member(t.app, 'shared-a', 'alice@example.com');
    const b = await member(t.app, 'shared-b', 'alice@example.com');
    assert.notEqual(a.tokens.access_token, b.tokens.access_token);
    const meA = await call(t.app, 'GET', '/api/users/me', {
      token: a.tokens.access_token,
      tenant: 'shared-a',
    });
    assert.equal(meA.statusCode, 200, meA.body);
    assert.equal(meA.json<{ role: string }>().role, 'member');
    const crossed = await call(t.app, 'GET', '/api/users/me', {
      token: a.tokens.access_token,
      tenant: 'shared-b',
    });
    assert.equal(crossed.statusCode, 401);
    const listA = await call(t.app, 'GET', '/api/users', {
      token: (await owner(0)).access_token,
      tenant: 'shared-a',
    });
    assert.equal(listA.statusCode, 200, listA.body);
    const emails = listA.json<{ items: { email: string }[] }>().items.map((u) => u.email);
    assert.deepEqual(emails.sort(), ['alice@example.com', 'shared-owner@example.com']);
  });

  test('PostgreSQL refuses a tenant handle access to a neighbour schema, even with hand-written SQL', async () => {
    const a = t.app.services.tenants.handle(placements[0] as TenantPlacement);
    const neighbour = `t_${orgs[1]?.id}`;
    await assert.rejects(
      sql`select * from ${sql.table(`${neighbour}.tenant_users`)}`.execute(a),
      (error: unknown) => sqlState(error) === '42501',
    );
    await assert.rejects(
      sql`insert into ${sql.table(`${neighbour}.tenant_users`)} (email) values ('x@example.com')`.execute(a),
      (error: unknown) => sqlState(error) === '42501',
    );
    // Unqualified names reach the tenant's own schema.
    const { rows } = await sql<{ schema: string; role: string }>`
      select current_schema() as schema, current_user as role`.execute(a);
    assert.equal(rows[0]?.schema, `t_${orgs[0]?.id}`);
    assert.equal(rows[0]?.role, t.app.services.store.sharedNames.role(orgs[0]?.id as number));
  });

  test('a connection handed from one tenant to the next carries neither role nor search path', async () => {
    const [first, second] = placements as [TenantPlacement, TenantPlacement];
    const a = t.app.services.tenants.handle(first);
    const b = t.app.services.tenants.handle(second);
    for (let i = 0; i < 5; i++) {
      const asA = await sql<{ pid: number; role: string; path: string }>`
        select pg_backend_pid() as pid, current_user as role, current_setting('search_path') as path`.execute(
        a,
      );
      const asB = await sql<{ pid: number; role: string; path: string }>`
        select pg_backend_pid() as pid, current_user as role, current_setting('search_path') as path`.execute(
        b,
      );
      assert.equal(asA.rows[0]?.role, t.app.services.store.sharedNames.role(orgs[0]?.id as number));
      assert.equal(asB.rows[0]?.role, t.app.services.store.sharedNames.role(orgs[1]?.id as number));
      assert.equal(asB.rows[0]?.path, `t_${orgs[1]?.id}`);
      // A transaction of A that changes the path with SET LOCAL leaves nothing behind for B.
      await a.transaction().execute(async (trx) => {
        await sql`set local search_path to public`.execute(trx);
      });
      const after = await sql<{ path: string }>`select current_setting('search_path') as path`.execute(b);
      assert.equal(after.rows[0]?.path, `t_${orgs[1]?.id}`);
    }
  });

  test('the next tenant on a connection gets neither a prepared statement nor a temporary table', async () => {
    const [first, second] = placements as [TenantPlacement, TenantPlacement];
    const a = t.app.services.tenants.handle(first);
    const b = t.app.services.tenants.handle(second);
    const pid = sql<{ pid: number }>`select pg_backend_pid() as pid`;
    await sql`prepare tenant_a_statement as select 1 as one`.execute(a);
    const [asA] = (await pid.execute(a)).rows;
    await assert.rejects(
      sql`execute tenant_a_statement`.execute(b),
      (error: unknown) => sqlState(error) === '26000',
    );
    const [asB] = (await pid.execute(b)).rows;
    assert.equal(asB?.pid, asA?.pid, 'the same connection served both');
    // A temporary table would live in a schema of the connection, not the tenant's: not allowed at all.
    await assert.rejects(
      sql`create temporary table scratch (x int)`.execute(a),
      (error: unknown) => sqlState(error) === '42501',
    );
  });

  test('deleting a shared tenant drops its schema and role, and nothing of its neighbour', async () => {
    const doomed = orgs[2] as OrgView;
    const deleted = await call(t.app, 'DELETE', `/api/organizations/${doomed.id}`, { token: ownerToken });
    assert.equal(deleted.statusCode, 204, deleted.body);
    const storage = t.app.services.storage;
    assert.equal(await storage.exists(placements[2] as TenantPlacement), false);
    const roles = await storage.schemas.listRoles((placements[2] as TenantPlacement).address);
    assert.ok(!roles.some((r) => r.orgId === doomed.id), 'its role is gone');
    assert.equal(await storage.exists(placements[0] as TenantPlacement), true);
    const me = await call(t.app, 'GET', '/api/users/me', {
      token: (await owner(0)).access_token,
      tenant: 'shared-a',
    });
    assert.equal(me.statusCode, 200);
    const gone = await call(t.app, 'GET', '/api/users/me', { token: ownerToken, tenant: doomed.slug });
    assert.equal(gone.statusCode, 404);
  });

  async function owner(index: number) {
    const exchanged = await call(t.app, 'POST', `/api/organizations/${orgs[index]?.id}/token`, {
      token: ownerToken,
    });
    assert.equal(exchanged.statusCode, 200, exchanged.body);
    return exchanged.json<{ access_token: string }>();
  }
});
