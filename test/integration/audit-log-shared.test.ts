import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, ownerWithOrganization, type Tokens } from '../helpers/flows.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

interface Page {
  items: { action: string; request_id: string | null; target: { type: string; id: number } | null }[];
  next_cursor: string | null;
}

let t: TestApp;
before(async () => {
  t = await createTestApp({ TENANT_PLACEMENT: 'shared' });
});
after(() => t?.close());

// The tenant migration creates the audit table in each tenant's own schema of a shared database (it runs as the
// tenant's role with its search_path), and events stay in that schema.
describe('audit events of shared tenants (schemas of one shared database)', () => {
  it('are recorded in the tenant schema, in and out of transactions, and read by that tenant only', async () => {
    const a = await ownerWithOrganization(
      t.app,
      'shared-audit-a@example.com',
      'Shared Audit A',
      'shared-audit-a',
    );
    const b = await ownerWithOrganization(
      t.app,
      'shared-audit-b@example.com',
      'Shared Audit B',
      'shared-audit-b',
    );
    const reg = await call(t.app, 'POST', '/api/auth/register', {
      tenant: a.org.slug,
      body: { email: 'shared-member@example.com', password: 'member password' },
    });
    assert.equal(reg.statusCode, 201, reg.body);
    const memberId = reg.json<{ id: number }>().id;
    const headers = { 'x-request-id': 'shared-audit-failed' };
    const failed = await call(t.app, 'POST', '/api/auth/login', {
      tenant: a.org.slug,
      body: { email: 'shared-member@example.com', password: 'wrong password' },
      headers,
    });
    assert.equal(failed.statusCode, 401);
    const promoted = await call(t.app, 'PATCH', `/api/users/${memberId}`, {
      tenant: a.org.slug,
      token: a.tenantTokens.access_token,
      body: { role: 'admin' },
      headers: { 'x-request-id': 'shared-audit-role' },
    });
    assert.equal(promoted.statusCode, 200, promoted.body);

    const read = async (tenant: string, tokens: Tokens) => {
      const res = await call(t.app, 'GET', '/api/audit-events?limit=100', {
        tenant,
        token: tokens.access_token,
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json<Page>().items;
    };
    const ofA = await read(a.org.slug, a.tenantTokens);
    assert.deepEqual(
      ofA.map((e) => [e.action, e.request_id?.startsWith('shared-audit') ? e.request_id : 'other']),
      [
        ['user.role.changed', 'shared-audit-role'],
        ['auth.login.failed', 'shared-audit-failed'],
        ['owner.token_exchanged', 'other'],
      ],
    );
    const ofB = await read(b.org.slug, b.tenantTokens);
    assert.deepEqual(
      ofB.map((e) => e.action),
      ['owner.token_exchanged'],
    );
    const cross = await call(t.app, 'GET', '/api/audit-events', {
      tenant: a.org.slug,
      token: b.tenantTokens.access_token,
    });
    assert.equal(cross.statusCode, 401);
  });
});
