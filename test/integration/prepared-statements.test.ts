import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { TenantContext } from '../../src/tenancy/routing/tenant-context.js';
import { call, ownerWithOrganization } from '../helpers/flows.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// One connection per tenant: the statements seen through the tenant's handle are those of the connection that
// served the requests.
let t: TestApp;
let acme: Awaited<ReturnType<typeof ownerWithOrganization>>;

before(async () => {
  t = await createTestApp({ TENANT_MAX_CONNECTIONS_PER_TENANT: '1' });
  acme = await ownerWithOrganization(t.app, 'prepared-owner@example.com', 'Prepared Acme', 'prepared-acme');
});
after(() => t.close());

async function tenantContext(orgId: number): Promise<TenantContext> {
  const row = await t.app.services.organizationRows.findResolvable({ kind: 'id', id: orgId });
  assert.ok(row);
  return t.app.services.tenants.contextForOrganization(row);
}

async function me() {
  return call(t.app, 'GET', '/api/users/me', {
    tenant: acme.org.slug,
    token: acme.tenantTokens.access_token,
  });
}

async function preparedStatements(tenant: TenantContext): Promise<string[]> {
  const { rows } = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(
    tenant.db,
  );
  return rows.map((row) => row.statement);
}

describe("a dedicated tenant's principal lookup", () => {
  it('runs as a prepared statement on its connection, and only that statement is prepared', async () => {
    const tenant = await tenantContext(acme.org.id);
    const first = await me();
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.json<{ email: string }>().email, 'prepared-owner@example.com');
    const statements = await preparedStatements(tenant);
    assert.equal(statements.length, 1, JSON.stringify(statements));
    assert.match(
      statements[0] as string,
      /^select "id", "email", "role", "is_active", "created_at" from "tenant_users"/,
    );
    // Used again, not prepared again.
    assert.equal((await me()).statusCode, 200);
    assert.equal((await preparedStatements(tenant)).length, 1);
  });

  it('still answers after a migration changes the type of a column it returns', async () => {
    const tenant = await tenantContext(acme.org.id);
    assert.equal((await me()).statusCode, 200);
    // PostgreSQL refuses a prepared statement whose result type changed ("cached plan must not change result
    // type"): the lookup must fall back to an unnamed query on that connection, not fail every request.
    await sql`alter table tenant_users alter column email type varchar(320)`.execute(tenant.db);
    for (let i = 0; i < 3; i++) {
      const answer = await me();
      assert.equal(answer.statusCode, 200, answer.body);
      assert.equal(answer.json<{ email: string }>().email, 'prepared-owner@example.com');
    }
  });
});
