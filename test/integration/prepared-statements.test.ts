import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { preparedName } from '../../src/db/prepared-statements.js';
import type { TenantContext } from '../../src/tenancy/routing/tenant-context.js';
import { call, ownerWithOrganization, type Tokens } from '../helpers/flows.js';
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

describe("a dedicated tenant's hot statements", () => {
  it('run prepared on its connection: the principal lookup, prepared once and reused', async () => {
    const tenant = await tenantContext(acme.org.id);
    const first = await me();
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.json<{ email: string }>().email, 'prepared-owner@example.com');
    const statements = await preparedStatements(tenant);
    assert.ok(
      statements.some((statement) =>
        /^select "id", "email", "role", "is_active", "created_at" from "tenant_users"/.test(statement),
      ),
      JSON.stringify(statements),
    );
    // Only registered statements are prepared, never an arbitrary query.
    for (const statement of statements) assert.ok(preparedName(statement), statement);
    // Used again, not prepared again.
    assert.equal((await me()).statusCode, 200);
    assert.deepEqual(await preparedStatements(tenant), statements);
  });

  it("and a login's three statements: the user by email, its refresh token, its audit event", async () => {
    const tenant = await tenantContext(acme.org.id);
    const body = { email: 'prepared-member@example.com', password: 'prepared-password-1' };
    const registered = await call(t.app, 'POST', '/api/auth/register', { tenant: acme.org.slug, body });
    assert.equal(registered.statusCode, 201, registered.body);
    const login = () => call(t.app, 'POST', '/api/auth/login', { tenant: acme.org.slug, body });
    const first = await login();
    assert.equal(first.statusCode, 200, first.body);
    const statements = await preparedStatements(tenant);
    for (const pattern of [
      /^select \* from "tenant_users" where "email" = \$1$/,
      /^insert into "tenant_refresh_tokens" \("user_id", "family_id", "token_hash", "expires_at"\) values/,
      /^insert into "audit_events" \("action", /,
    ])
      assert.ok(
        statements.some((statement) => pattern.test(statement)),
        `${String(pattern)} in ${JSON.stringify(statements)}`,
      );

    // A second login reuses them, and its tokens work: its refresh token was stored, its event recorded.
    const second = await login();
    assert.equal(second.statusCode, 200, second.body);
    assert.deepEqual(await preparedStatements(tenant), statements);
    const tokens = second.json<Tokens>();
    const refreshed = await call(t.app, 'POST', '/api/auth/refresh', {
      tenant: acme.org.slug,
      body: { refresh_token: tokens.refresh_token },
    });
    assert.equal(refreshed.statusCode, 200, refreshed.body);
    const events = await sql<{ n: string }>`
      select count(*) as n from audit_events where action = 'auth.login.succeeded'`.execute(tenant.db);
    assert.equal(Number(events.rows[0]?.n), 2);
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
