import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { call, ownerWithOrganization, type Tokens } from '../helpers/flows.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(() => t.close());

function assertNoStore(res: LightMyRequestResponse, what: string): void {
  assert.equal(res.statusCode, 200, `${what}: ${res.body}`);
  assert.equal(res.headers['cache-control'], 'no-store', what);
  assert.equal(res.headers.pragma, 'no-cache', what);
}

describe('token responses are never cached (RFC 6749 §5.1)', () => {
  it('core login, core refresh, owner token exchange, tenant login and tenant refresh send no-store', async () => {
    const { owner, org, tenantTokens } = await ownerWithOrganization(t.app, 'nc@example.com', 'No Cache');
    const password = 'correct horse battery';

    const coreLogin = await call(t.app, 'POST', '/api/auth/login', {
      body: { email: 'nc@example.com', password },
    });
    assertNoStore(coreLogin, 'core login');
    const form = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `username=nc%40example.com&password=${encodeURIComponent(password)}`,
    });
    assertNoStore(form, 'core login (OAuth2 form)');
    const coreRefresh = await call(t.app, 'POST', '/api/auth/refresh', {
      body: { refresh_token: coreLogin.json<Tokens>().refresh_token },
    });
    assertNoStore(coreRefresh, 'core refresh');
    const exchange = await call(t.app, 'POST', `/api/organizations/${org.id}/token`, {
      token: owner.tokens.access_token,
    });
    assertNoStore(exchange, 'owner token exchange');

    const tenantRefresh = await call(t.app, 'POST', '/api/auth/refresh', {
      tenant: org.id,
      body: { refresh_token: tenantTokens.refresh_token },
    });
    assertNoStore(tenantRefresh, 'tenant refresh');
    const registered = await call(t.app, 'POST', '/api/auth/register', {
      tenant: org.slug,
      body: { email: 'member@example.com', password },
    });
    assert.equal(registered.statusCode, 201);
    const tenantLogin = await call(t.app, 'POST', '/api/auth/login', {
      tenant: org.slug,
      body: { email: 'member@example.com', password },
    });
    assertNoStore(tenantLogin, 'tenant login');
  });
});
