import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { call, ownerWithOrganization, type Tokens } from '../helpers/flows.js';

let t: TestApp;
type Setup = Awaited<ReturnType<typeof ownerWithOrganization>>;
let a: Setup;
let b: Setup;

before(async () => {
  t = await createTestApp();
  a = await ownerWithOrganization(t.app, 'owner-a@example.com', 'Tenant A', 'tenant-a');
  b = await ownerWithOrganization(t.app, 'owner-b@example.com', 'Tenant B', 'tenant-b');
});
after(() => t.close());

const PASSWORD = 'member password';

async function member(tenant: string | number, email: string, password = PASSWORD) {
  const reg = await call(t.app, 'POST', '/api/auth/register', { tenant, body: { email, password } });
  assert.equal(reg.statusCode, 201, reg.body);
  const login = await call(t.app, 'POST', '/api/auth/login', { tenant, body: { email, password } });
  assert.equal(login.statusCode, 200, login.body);
  return { user: reg.json<{ id: number; role: string }>(), tokens: login.json<Tokens>() };
}

describe('X-TENANT resolution', () => {
  it('answers malformed values 400, unknown 404, by id or exact slug', async () => {
    for (const value of [
      '042',
      '+1',
      ' 1',
      '1 ',
      'Tenant-A',
      'tenant_a',
      'ténant-a',
      'tenant-a\u200b',
      '-1',
      '99999999999',
      'a',
    ]) {
      const res = await call(t.app, 'POST', '/api/auth/login', {
        tenant: value,
        body: { email: 'x@example.com', password: 'x' },
      });
      assert.equal(res.statusCode, 400, JSON.stringify(value));
      assert.equal(res.json<{ code: string }>().code, 'TENANT_INVALID', JSON.stringify(value));
    }
    for (const value of ['999999', 'no-such-tenant']) {
      const res = await call(t.app, 'POST', '/api/auth/login', {
        tenant: value,
        body: { email: 'x@example.com', password: 'x' },
      });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json<{ code: string }>().code, 'TENANT_NOT_FOUND');
    }
  });

  it('answers a tenant-only route without the header with 400 TENANT_REQUIRED', async () => {
    const res = await call(t.app, 'GET', '/api/users', { token: a.tenantTokens.access_token });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json<{ code: string }>().code, 'TENANT_REQUIRED');
  });

  it('answers suspended 403 and provisioning 503 with Retry-After', async () => {
    const setStatus = async (status: 'suspended' | 'provisioning' | 'active') => {
      await t.app.core.db.updateTable('organizations').set({ status }).where('id', '=', b.org.id).execute();
      t.app.services.tenants.invalidate(b.org.id);
    };
    try {
      await setStatus('suspended');
      const suspended = await call(t.app, 'GET', '/api/users/me', {
        tenant: b.org.id,
        token: b.tenantTokens.access_token,
      });
      assert.equal(suspended.statusCode, 403);
      assert.equal(suspended.json<{ code: string }>().code, 'TENANT_SUSPENDED');
      await setStatus('provisioning');
      const pending = await call(t.app, 'GET', '/api/users/me', {
        tenant: 'tenant-b',
        token: b.tenantTokens.access_token,
      });
      assert.equal(pending.statusCode, 503);
      assert.equal(pending.json<{ code: string }>().code, 'TENANT_NOT_READY');
      assert.ok(pending.headers['retry-after']);
    } finally {
      await setStatus('active');
    }
  });
});

describe('tenant accounts', () => {
  it('registers members, logs them in with tenant-bound tokens, refreshes and logs out', async () => {
    const m = await member('tenant-a', ' Mia@Example.com ');
    assert.equal(m.user.role, 'member');
    const claims = decodeJwt(m.tokens.access_token);
    assert.equal(claims.aud, 'tenant');
    assert.equal(claims.tid, a.org.id);
    assert.equal(claims.role, 'member');
    const me = await call(t.app, 'GET', '/api/users/me', { tenant: a.org.id, token: m.tokens.access_token });
    assert.equal(me.statusCode, 200);
    assert.deepEqual(Object.keys(me.json()).sort(), ['created_at', 'email', 'id', 'is_active', 'role']);
    assert.equal(me.json<{ email: string }>().email, 'mia@example.com');

    const refreshed = await call(t.app, 'POST', '/api/auth/refresh', {
      tenant: 'tenant-a',
      body: { refresh_token: m.tokens.refresh_token },
    });
    assert.equal(refreshed.statusCode, 200);
    assert.equal(decodeJwt(refreshed.json<Tokens>().access_token).tid, a.org.id);
    // A tenant's refresh token means nothing in another tenant or in the core.
    const rotated = refreshed.json<Tokens>().refresh_token;
    assert.equal(
      (
        await call(t.app, 'POST', '/api/auth/refresh', {
          tenant: 'tenant-b',
          body: { refresh_token: rotated },
        })
      ).statusCode,
      401,
    );
    assert.equal(
      (await call(t.app, 'POST', '/api/auth/refresh', { body: { refresh_token: rotated } })).statusCode,
      401,
    );
    assert.equal(
      (
        await call(t.app, 'POST', '/api/auth/logout', {
          tenant: 'tenant-a',
          body: { refresh_token: rotated },
        })
      ).statusCode,
      204,
    );
    assert.equal(
      (
        await call(t.app, 'POST', '/api/auth/refresh', {
          tenant: 'tenant-a',
          body: { refresh_token: rotated },
        })
      ).statusCode,
      401,
    );
  });

  it('keeps the same email in two tenants as two independent users', async () => {
    const inA = await member('tenant-a', 'same@example.com', 'password in a');
    const inB = await member('tenant-b', 'same@example.com', 'password in b');
    assert.equal(decodeJwt(inA.tokens.access_token).tid, a.org.id);
    assert.equal(decodeJwt(inB.tokens.access_token).tid, b.org.id);
    const crossed = await call(t.app, 'POST', '/api/auth/login', {
      tenant: 'tenant-a',
      body: { email: 'same@example.com', password: 'password in b' },
    });
    assert.equal(crossed.statusCode, 401);
    const dup = await call(t.app, 'POST', '/api/auth/register', {
      tenant: 'tenant-a',
      body: { email: 'SAME@example.com', password: PASSWORD },
    });
    assert.equal(dup.statusCode, 409);
    assert.deepEqual(dup.json(), { detail: 'Email already registered in this tenant', code: 'EMAIL_TAKEN' });
  });

  it('the owner (no password of its own) cannot log in with a password', async () => {
    const res = await call(t.app, 'POST', '/api/auth/login', {
      tenant: 'tenant-a',
      body: { email: 'owner-a@example.com', password: 'correct horse battery' },
    });
    assert.equal(res.statusCode, 401);
  });

  it('updates the caller: email (409 when taken), password only with the current one', async () => {
    const m = await member('tenant-a', 'self@example.com');
    const auth = { tenant: 'tenant-a', token: m.tokens.access_token };
    const taken = await call(t.app, 'PATCH', '/api/users/me', {
      ...auth,
      body: { email: 'mia@example.com' },
    });
    assert.equal(taken.statusCode, 409);
    const renamed = await call(t.app, 'PUT', '/api/users/me', {
      ...auth,
      body: { email: 'Self2@example.com' },
    });
    assert.equal(renamed.statusCode, 200);
    assert.equal(renamed.json<{ email: string }>().email, 'self2@example.com');
    const noCurrent = await call(t.app, 'PATCH', '/api/users/me', {
      ...auth,
      body: { password: 'new password!' },
    });
    assert.equal(noCurrent.statusCode, 422);
    const wrong = await call(t.app, 'PATCH', '/api/users/me', {
      ...auth,
      body: { password: 'new password!', current_password: 'wrong one' },
    });
    assert.equal(wrong.statusCode, 401);
    const ok = await call(t.app, 'PATCH', '/api/users/me', {
      ...auth,
      body: { password: 'new password!', current_password: PASSWORD },
    });
    assert.equal(ok.statusCode, 200);
    const login = await call(t.app, 'POST', '/api/auth/login', {
      tenant: 'tenant-a',
      body: { email: 'self2@example.com', password: 'new password!' },
    });
    assert.equal(login.statusCode, 200);
  });

  it('honours allow_signup', async () => {
    const coreLogin = await call(t.app, 'POST', '/api/auth/login', {
      body: { email: 'owner-b@example.com', password: 'correct horse battery' },
    });
    const token = coreLogin.json<Tokens>().access_token;
    await call(t.app, 'PATCH', `/api/organizations/${b.org.id}`, { token, body: { allow_signup: false } });
    try {
      const res = await call(t.app, 'POST', '/api/auth/register', {
        tenant: 'tenant-b',
        body: { email: 'late@example.com', password: PASSWORD },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json<{ code: string }>().code, 'SIGNUP_DISABLED');
    } finally {
      await call(t.app, 'PATCH', `/api/organizations/${b.org.id}`, { token, body: { allow_signup: true } });
    }
  });
});

describe('tenant user administration', () => {
  it('lets owners and admins list and manage users; members get 403', async () => {
    const m = await member('tenant-a', 'plain@example.com');
    const admin = await member('tenant-a', 'boss@example.com');
    const owner = { tenant: 'tenant-a', token: a.tenantTokens.access_token };

    assert.equal(
      (await call(t.app, 'GET', '/api/users', { tenant: 'tenant-a', token: m.tokens.access_token }))
        .statusCode,
      403,
    );
    const promoted = await call(t.app, 'PATCH', `/api/users/${admin.user.id}`, {
      ...owner,
      body: { role: 'admin' },
    });
    assert.equal(promoted.statusCode, 200);
    assert.equal(promoted.json<{ role: string }>().role, 'admin');

    // The admin's token still says "member", but the current role is what counts.
    const asAdmin = { tenant: 'tenant-a', token: admin.tokens.access_token };
    const list = await call(t.app, 'GET', '/api/users?limit=2', asAdmin);
    assert.equal(list.statusCode, 200);
    const page = list.json<{ items: { email: string }[]; next_cursor: string | null }>();
    assert.equal(page.items.length, 2);
    assert.ok(page.next_cursor);
    const search = await call(t.app, 'GET', '/api/users?q=PLAIN', asAdmin);
    assert.deepEqual(
      search.json<{ items: { email: string }[] }>().items.map((u) => u.email),
      ['plain@example.com'],
    );
    const wildcard = await call(t.app, 'GET', '/api/users?q=%25', asAdmin);
    assert.deepEqual(wildcard.json<{ items: unknown[] }>().items, [], '% is matched literally');
    assert.equal((await call(t.app, 'GET', `/api/users/${m.user.id}`, asAdmin)).statusCode, 200);
    assert.equal((await call(t.app, 'GET', '/api/users/999999', asAdmin)).statusCode, 404);
    assert.equal((await call(t.app, 'GET', '/api/users?cursor=bogus', asAdmin)).statusCode, 422);

    // Admins cannot touch owners.
    const ownerId = decodeJwt(a.tenantTokens.access_token).sub;
    assert.equal(
      (await call(t.app, 'PATCH', `/api/users/${ownerId}`, { ...asAdmin, body: { role: 'member' } }))
        .statusCode,
      403,
    );
    assert.equal(
      (await call(t.app, 'PATCH', `/api/users/${m.user.id}`, { ...asAdmin, body: { role: 'owner' } }))
        .statusCode,
      403,
    );

    // Demotion takes effect on the very next request.
    await call(t.app, 'PATCH', `/api/users/${admin.user.id}`, { ...owner, body: { role: 'member' } });
    assert.equal((await call(t.app, 'GET', '/api/users', asAdmin)).statusCode, 403);
  });

  it('a deactivated user loses access at once, even with a valid token; inactive login is 403 USER_INACTIVE', async () => {
    const m = await member('tenant-a', 'leaver@example.com');
    const owner = { tenant: 'tenant-a', token: a.tenantTokens.access_token };
    assert.equal(
      (await call(t.app, 'GET', '/api/users/me', { tenant: 'tenant-a', token: m.tokens.access_token }))
        .statusCode,
      200,
    );
    const off = await call(t.app, 'PATCH', `/api/users/${m.user.id}`, {
      ...owner,
      body: { is_active: false },
    });
    assert.equal(off.statusCode, 200);
    assert.equal(off.json<{ is_active: boolean }>().is_active, false);
    const me = await call(t.app, 'GET', '/api/users/me', {
      tenant: 'tenant-a',
      token: m.tokens.access_token,
    });
    assert.equal(me.statusCode, 401);
    assert.equal(
      (
        await call(t.app, 'POST', '/api/auth/refresh', {
          tenant: 'tenant-a',
          body: { refresh_token: m.tokens.refresh_token },
        })
      ).statusCode,
      401,
    );
    const login = await call(t.app, 'POST', '/api/auth/login', {
      tenant: 'tenant-a',
      body: { email: 'leaver@example.com', password: PASSWORD },
    });
    assert.equal(login.statusCode, 403);
    assert.equal(login.json<{ code: string }>().code, 'USER_INACTIVE');
    const wrong = await call(t.app, 'POST', '/api/auth/login', {
      tenant: 'tenant-a',
      body: { email: 'leaver@example.com', password: 'bad password' },
    });
    assert.equal(wrong.statusCode, 401);
    const listed = await call(t.app, 'GET', '/api/users?q=leaver', owner);
    assert.equal(
      listed.json<{ items: { is_active: boolean }[] }>().items[0]?.is_active,
      false,
      'admin lists include inactive users',
    );
  });

  it('a deleted user loses access at once', async () => {
    const m = await member('tenant-a', 'gone@example.com');
    const del = await call(t.app, 'DELETE', `/api/users/${m.user.id}`, {
      tenant: 'tenant-a',
      token: a.tenantTokens.access_token,
    });
    assert.equal(del.statusCode, 204);
    assert.equal(
      (await call(t.app, 'GET', '/api/users/me', { tenant: 'tenant-a', token: m.tokens.access_token }))
        .statusCode,
      401,
    );
    assert.equal(
      (
        await call(t.app, 'DELETE', `/api/users/${m.user.id}`, {
          tenant: 'tenant-a',
          token: a.tenantTokens.access_token,
        })
      ).statusCode,
      404,
    );
  });

  it("refuses to demote, deactivate or delete the organization's linked owner (409 OWNER_PROTECTED)", async () => {
    const owner = { tenant: 'tenant-b', token: b.tenantTokens.access_token };
    const ownerId = decodeJwt(b.tenantTokens.access_token).sub;
    for (const body of [{ role: 'admin' }, { is_active: false }]) {
      const res = await call(t.app, 'PATCH', `/api/users/${ownerId}`, { ...owner, body });
      assert.equal(res.statusCode, 409, JSON.stringify(body));
      assert.equal(res.json<{ code: string }>().code, 'OWNER_PROTECTED');
    }
    assert.equal((await call(t.app, 'DELETE', `/api/users/${ownerId}`, owner)).statusCode, 409);
    // A second owner may step down: the linked owner remains.
    const second = await member('tenant-b', 'co-owner@example.com');
    assert.equal(
      (await call(t.app, 'PATCH', `/api/users/${second.user.id}`, { ...owner, body: { role: 'owner' } }))
        .statusCode,
      200,
    );
    assert.equal(
      (await call(t.app, 'PATCH', `/api/users/${second.user.id}`, { ...owner, body: { role: 'admin' } }))
        .statusCode,
      200,
    );
  });
});

describe('tokens never cross planes or tenants', () => {
  const tenantRoutes = (id: number) =>
    [
      ['GET', '/api/users/me'],
      ['PATCH', '/api/users/me'],
      ['PUT', '/api/users/me'],
      ['GET', '/api/users'],
      ['GET', `/api/users/${id}`],
      ['PATCH', `/api/users/${id}`],
      ['DELETE', `/api/users/${id}`],
    ] as const;

  it("refuses A's token with B's header (by id and slug), and a core token, on every tenant route", async () => {
    const coreLogin = await call(t.app, 'POST', '/api/auth/login', {
      body: { email: 'owner-a@example.com', password: 'correct horse battery' },
    });
    const coreToken = coreLogin.json<Tokens>().access_token;
    const bOwnerId = Number(decodeJwt(b.tenantTokens.access_token).sub);
    for (const [method, url] of tenantRoutes(bOwnerId)) {
      const body =
        method === 'GET' || method === 'DELETE'
          ? undefined
          : { is_active: false, email: 'hijack@example.com' };
      for (const [label, tenant, token] of [
        ['A token, B id', b.org.id, a.tenantTokens.access_token],
        ['A token, B slug', 'tenant-b', a.tenantTokens.access_token],
        ['B token, A id', a.org.id, b.tenantTokens.access_token],
        ['core token', 'tenant-a', coreToken],
      ] as const) {
        const res = await call(t.app, method, url, { tenant, token, ...(body ? { body } : {}) });
        assert.equal(res.statusCode, 401, `${label}: ${method} ${url}`);
        assert.equal(res.json<{ code: string }>().code, 'TOKEN_INVALID', `${label}: ${method} ${url}`);
      }
    }
    // Nothing changed in B.
    const bUsers = await call(t.app, 'GET', '/api/users', {
      tenant: 'tenant-b',
      token: b.tenantTokens.access_token,
    });
    assert.ok(
      bUsers
        .json<{ items: { email: string; is_active: boolean }[] }>()
        .items.every((u) => u.is_active && u.email !== 'hijack@example.com'),
    );
  });

  it('refuses a tenant token on every core route', async () => {
    for (const [method, url] of [
      ['GET', '/api/users/me'],
      ['PATCH', '/api/users/me'],
      ['GET', '/api/organizations'],
      ['POST', '/api/organizations'],
      ['GET', `/api/organizations/${a.org.id}`],
      ['PATCH', `/api/organizations/${a.org.id}`],
      ['DELETE', `/api/organizations/${a.org.id}`],
      ['POST', `/api/organizations/${a.org.id}/token`],
    ] as const) {
      const body =
        method === 'POST' || method === 'PATCH'
          ? { name: 'x', password: 'whatever1', current_password: 'x' }
          : undefined;
      const res = await call(t.app, method, url, {
        token: a.tenantTokens.access_token,
        ...(body ? { body } : {}),
      });
      assert.equal(res.statusCode, 401, `${method} ${url}`);
      assert.equal(res.json<{ code: string }>().code, 'TOKEN_INVALID');
    }
  });
});
