import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { call, ownerWithOrganization, type Tokens } from '../helpers/flows.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let setup: Awaited<ReturnType<typeof ownerWithOrganization>>;
let linkedOwnerId: string;
const PASSWORD = 'member password';

before(async () => {
  t = await createTestApp();
  setup = await ownerWithOrganization(t.app, 'founder@example.com', 'Founder Org', 'founder-org');
  linkedOwnerId = String(decodeJwt(setup.tenantTokens.access_token).sub);
});
after(() => t.close());

/** A tenant user promoted by the linked owner to `role`, with its own tokens. */
async function colleague(email: string, role: 'owner' | 'admin'): Promise<Tokens> {
  const tenant = setup.org.slug;
  const reg = await call(t.app, 'POST', '/api/auth/register', {
    tenant,
    body: { email, password: PASSWORD },
  });
  assert.equal(reg.statusCode, 201, reg.body);
  const promoted = await call(t.app, 'PATCH', `/api/users/${reg.json<{ id: number }>().id}`, {
    tenant,
    token: setup.tenantTokens.access_token,
    body: { role },
  });
  assert.equal(promoted.statusCode, 200, promoted.body);
  const login = await call(t.app, 'POST', '/api/auth/login', { tenant, body: { email, password: PASSWORD } });
  assert.equal(login.statusCode, 200, login.body);
  return login.json<Tokens>();
}

const attacks: [string, { method: 'PATCH' | 'DELETE'; body?: object }][] = [
  ['delete', { method: 'DELETE' }],
  ['demote to admin', { method: 'PATCH', body: { role: 'admin' } }],
  ['demote to member', { method: 'PATCH', body: { role: 'member' } }],
  ['deactivate', { method: 'PATCH', body: { is_active: false } }],
  ['demote and deactivate', { method: 'PATCH', body: { role: 'member', is_active: false } }],
];

describe("the tenant user linked to the organization's core owner", () => {
  it('cannot be deleted, demoted or deactivated by another owner (409 OWNER_PROTECTED); the exchange still gives role owner', async () => {
    const coOwner = await colleague('co-owner@example.com', 'owner');
    for (const [what, { method, body }] of attacks) {
      const res = await call(t.app, method, `/api/users/${linkedOwnerId}`, {
        tenant: setup.org.slug,
        token: coOwner.access_token,
        ...(body ? { body } : {}),
      });
      assert.equal(res.statusCode, 409, `${what}: ${res.body}`);
      assert.equal(res.json<{ code: string }>().code, 'OWNER_PROTECTED', what);
    }
    // Changes that take nothing away are still allowed.
    const noop = await call(t.app, 'PATCH', `/api/users/${linkedOwnerId}`, {
      tenant: setup.org.slug,
      token: coOwner.access_token,
      body: { role: 'owner', is_active: true },
    });
    assert.equal(noop.statusCode, 200, noop.body);

    const exchange = await call(t.app, 'POST', `/api/organizations/${setup.org.id}/token`, {
      token: setup.owner.tokens.access_token,
    });
    assert.equal(exchange.statusCode, 200, exchange.body);
    const claims = decodeJwt(exchange.json<Tokens>().access_token);
    assert.equal(claims.role, 'owner');
    assert.equal(claims.sub, linkedOwnerId);
    const me = await call(t.app, 'GET', '/api/users/me', {
      tenant: setup.org.id,
      token: exchange.json<Tokens>().access_token,
    });
    assert.equal(me.json<{ role: string; is_active: boolean }>().role, 'owner');
    assert.equal(me.json<{ is_active: boolean }>().is_active, true);
  });

  it('nor by the linked owner itself', async () => {
    for (const [what, { method, body }] of attacks) {
      const res = await call(t.app, method, `/api/users/${linkedOwnerId}`, {
        tenant: setup.org.slug,
        token: setup.tenantTokens.access_token,
        ...(body ? { body } : {}),
      });
      assert.equal(res.statusCode, 409, `${what}: ${res.body}`);
      assert.equal(res.json<{ code: string }>().code, 'OWNER_PROTECTED', what);
    }
  });

  it('an admin gets 403 FORBIDDEN (permission comes before protection)', async () => {
    const admin = await colleague('admin@example.com', 'admin');
    for (const [what, { method, body }] of attacks) {
      const res = await call(t.app, method, `/api/users/${linkedOwnerId}`, {
        tenant: setup.org.slug,
        token: admin.access_token,
        ...(body ? { body } : {}),
      });
      assert.equal(res.statusCode, 403, `${what}: ${res.body}`);
      assert.equal(res.json<{ code: string }>().code, 'FORBIDDEN', what);
    }
    const exchange = await call(t.app, 'POST', `/api/organizations/${setup.org.id}/token`, {
      token: setup.owner.tokens.access_token,
    });
    assert.equal(exchange.statusCode, 200);
    assert.equal(decodeJwt(exchange.json<Tokens>().access_token).role, 'owner');
  });

  it('other owners are not protected: the linked owner may demote and delete them', async () => {
    const other = await colleague('other-owner@example.com', 'owner');
    const otherId = decodeJwt(other.access_token).sub;
    const owner = { tenant: setup.org.slug, token: setup.tenantTokens.access_token };
    const demoted = await call(t.app, 'PATCH', `/api/users/${otherId}`, {
      ...owner,
      body: { role: 'member' },
    });
    assert.equal(demoted.statusCode, 200, demoted.body);
    assert.equal((await call(t.app, 'DELETE', `/api/users/${otherId}`, owner)).statusCode, 204);
  });
});
