import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { call, ownerWithOrganization, verifiedCoreUser, type Tokens } from '../helpers/flows.js';

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(() => t.close());

interface Org {
  id: number;
  organization_id: number;
  name: string;
  slug: string;
  status: string;
  tenant_db_name: string;
  owner_id: number;
  allow_signup: boolean;
  created_at: string;
}

describe('organizations', () => {
  let owner: { id: number; tokens: Tokens };
  let org: Org;

  before(async () => {
    owner = await verifiedCoreUser(t.app, 'owner@example.com', { isOwner: true });
  });

  it('refuses non-owners with 403 NOT_OWNER', async () => {
    const member = await verifiedCoreUser(t.app, 'member@example.com');
    const res = await call(t.app, 'POST', '/api/organizations', {
      token: member.tokens.access_token,
      body: { name: 'Nope' },
    });
    assert.equal(res.statusCode, 403);
    assert.deepEqual(res.json(), { detail: 'Only owners can create organizations', code: 'NOT_OWNER' });
  });

  it('creates an active organization whose database exists and holds the owner', async () => {
    const res = await call(t.app, 'POST', '/api/organizations', {
      token: owner.tokens.access_token,
      body: { name: 'Acme Café' },
    });
    assert.equal(res.statusCode, 201, res.body);
    org = res.json<Org>();
    assert.equal(org.status, 'active');
    assert.equal(org.slug, 'acme-cafe');
    assert.equal(org.organization_id, org.id);
    assert.equal(org.owner_id, owner.id);
    assert.equal(org.allow_signup, true);
    assert.ok(org.tenant_db_name);
    assert.ok(await t.app.services.store.exists(org.tenant_db_name));
    const handle = await t.app.services.store.open(org.tenant_db_name);
    try {
      const users = await handle.db.selectFrom('tenant_users').selectAll().execute();
      assert.equal(users.length, 1);
      assert.equal(users[0]?.role, 'owner');
      assert.equal(users[0]?.core_user_id, owner.id);
      assert.equal(users[0]?.password_hash, null);
      assert.equal(users[0]?.email, 'owner@example.com');
    } finally {
      await handle.close();
    }
  });

  it('derives a unique slug, and answers 409 SLUG_TAKEN for a given one that is taken', async () => {
    const again = await call(t.app, 'POST', '/api/organizations', {
      token: owner.tokens.access_token,
      body: { name: 'Acme Cafe' },
    });
    assert.equal(again.statusCode, 201);
    assert.match(again.json<Org>().slug, /^acme-cafe-[0-9a-f]{6}$/);
    const taken = await call(t.app, 'POST', '/api/organizations', {
      token: owner.tokens.access_token,
      body: { name: 'Other', slug: 'acme-cafe' },
    });
    assert.equal(taken.statusCode, 409);
    assert.equal(taken.json<{ code: string }>().code, 'SLUG_TAKEN');
    const bad = await call(t.app, 'POST', '/api/organizations', {
      token: owner.tokens.access_token,
      body: { name: 'Other', slug: 'Bad Slug' },
    });
    assert.equal(bad.statusCode, 422);
  });

  it('lists, reads and updates the caller’s organizations; another owner sees 404', async () => {
    const list = await call(t.app, 'GET', '/api/organizations?limit=1', { token: owner.tokens.access_token });
    assert.equal(list.statusCode, 200);
    const page = list.json<{ items: Org[]; next_cursor: string | null }>();
    assert.equal(page.items.length, 1);
    assert.ok(page.next_cursor);
    const next = await call(t.app, 'GET', `/api/organizations?limit=1&cursor=${page.next_cursor}`, {
      token: owner.tokens.access_token,
    });
    assert.notEqual(next.json<{ items: Org[] }>().items[0]?.id, page.items[0]?.id);

    const patched = await call(t.app, 'PATCH', `/api/organizations/${org.id}`, {
      token: owner.tokens.access_token,
      body: { name: 'Acme Renamed', allow_signup: false },
    });
    assert.equal(patched.statusCode, 200);
    assert.equal(patched.json<Org>().name, 'Acme Renamed');
    assert.equal(patched.json<Org>().allow_signup, false);

    const other = await verifiedCoreUser(t.app, 'rival@example.com', { isOwner: true });
    for (const [method, url] of [
      ['GET', `/api/organizations/${org.id}`],
      ['PATCH', `/api/organizations/${org.id}`],
      ['DELETE', `/api/organizations/${org.id}`],
      ['POST', `/api/organizations/${org.id}/token`],
    ] as const) {
      const res = await call(t.app, method, url, {
        token: other.tokens.access_token,
        ...(method === 'PATCH' ? { body: { name: 'x' } } : {}),
      });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
    }
    const theirs = await call(t.app, 'GET', '/api/organizations', { token: other.tokens.access_token });
    assert.deepEqual(theirs.json<{ items: Org[] }>().items, []);
  });

  it('exchanges the owner’s core token for a tenant token with role owner', async () => {
    const res = await call(t.app, 'POST', `/api/organizations/${org.id}/token`, {
      token: owner.tokens.access_token,
    });
    assert.equal(res.statusCode, 200);
    const claims = decodeJwt(res.json<Tokens>().access_token);
    assert.equal(claims.aud, 'tenant');
    assert.equal(claims.tid, org.id);
    assert.equal(claims.role, 'owner');
    const me = await call(t.app, 'GET', '/api/users/me', {
      token: res.json<Tokens>().access_token,
      tenant: org.slug,
    });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json<{ role: string }>().role, 'owner');
  });

  it('deletes the organization and its database; its id and slug then answer 404', async () => {
    const { org: doomed, tenantTokens } = await ownerWithOrganization(
      t.app,
      'doomed@example.com',
      'Doomed',
      'doomed',
    );
    const coreToken = (
      await call(t.app, 'POST', '/api/auth/login', {
        body: { email: 'doomed@example.com', password: 'correct horse battery' },
      })
    ).json<Tokens>();
    // Warm a pooled connection to it first, so the drop has to close it.
    assert.equal(
      (await call(t.app, 'GET', '/api/users/me', { token: tenantTokens.access_token, tenant: doomed.id }))
        .statusCode,
      200,
    );
    const res = await call(t.app, 'DELETE', `/api/organizations/${doomed.id}`, {
      token: coreToken.access_token,
    });
    assert.equal(res.statusCode, 204);
    assert.equal(await t.app.services.store.exists(doomed.tenant_db_name), false);
    for (const tenant of [doomed.id, 'doomed']) {
      const me = await call(t.app, 'GET', '/api/users/me', { token: tenantTokens.access_token, tenant });
      assert.equal(me.statusCode, 404);
      assert.equal(me.json<{ code: string }>().code, 'TENANT_NOT_FOUND');
    }
    assert.equal(
      (await call(t.app, 'GET', `/api/organizations/${doomed.id}`, { token: coreToken.access_token }))
        .statusCode,
      404,
    );
    // The slug may be taken again, with a new id; old tokens (bound to the old id) stay dead.
    const reborn = await call(t.app, 'POST', '/api/organizations', {
      token: coreToken.access_token,
      body: { name: 'Doomed', slug: 'doomed' },
    });
    assert.equal(reborn.statusCode, 201);
    assert.ok(reborn.json<Org>().id > doomed.id);
    const stale = await call(t.app, 'GET', '/api/users/me', {
      token: tenantTokens.access_token,
      tenant: 'doomed',
    });
    assert.equal(stale.statusCode, 401);
  });
});
