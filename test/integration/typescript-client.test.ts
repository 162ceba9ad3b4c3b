import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createTenantryClient,
  memoryTokenStore,
  type CoreUser,
  type Organization,
  type TenantUser,
  type TokenResponse,
} from '../../clients/typescript/src/index.js';
import { startLiveServer, type LiveServer } from '../helpers/live-server.js';

let server: LiveServer;

before(async () => {
  server = await startLiveServer();
});
after(() => server?.stop());

/** The token of an emailed link. */
function tokenOf(link: string): string {
  const token = new URL(link).searchParams.get('token');
  assert.ok(token, link);
  return token;
}

describe('the typed client (clients/typescript) against a running server', () => {
  it('drives register → verify → login → organization → token exchange → tenant user → me', async () => {
    const core = createTenantryClient({ baseUrl: server.baseUrl });
    const email = 'client-owner@example.com';
    const password = 'correct horse battery staple';

    const registered = await core.POST('/api/auth/register', { body: { email, password, is_owner: true } });
    assert.equal(registered.response.status, 201, JSON.stringify(registered.error));
    assert.ok(registered.data && 'user' in registered.data);
    const account: CoreUser = registered.data.user;
    assert.equal(account.is_verified, false);

    const again = await core.POST('/api/auth/register', { body: { email, password } });
    assert.equal(again.response.status, 409);
    assert.equal(again.error?.code, 'EMAIL_TAKEN', 'error codes are typed and answered');

    const link = await server.linkFromOutbox(email, '/api/auth/verify');
    const verified = await core.GET('/api/auth/verify', { params: { query: { token: tokenOf(link) } } });
    assert.equal(verified.data?.message, 'Email verified successfully');

    const login = await core.POST('/api/auth/login', { body: { email, password } });
    assert.ok(login.data, JSON.stringify(login.error));
    core.tokens.set(login.data);

    const me = await core.GET('/api/users/me');
    assert.ok(me.data && 'is_owner' in me.data);
    assert.equal(me.data.email, email);

    const created = await core.POST('/api/organizations', {
      body: { name: 'Client Corp', slug: 'client-corp' },
    });
    assert.equal(created.response.status, 201, JSON.stringify(created.error));
    const org: Organization = created.data as Organization;
    assert.equal(org.status, 'active');
    assert.equal(org.slug, 'client-corp');

    const exchanged = await core.POST('/api/organizations/{id}/token', { params: { path: { id: org.id } } });
    assert.ok(exchanged.data, JSON.stringify(exchanged.error));
    const asOwner = core.withTenant(org.slug, memoryTokenStore(exchanged.data));
    const ownerMe = await asOwner.GET('/api/users/me');
    assert.ok(ownerMe.data && 'role' in ownerMe.data);
    assert.equal(ownerMe.data.role, 'owner');

    const tenant = core.withTenant(org.id);
    const member = await tenant.POST('/api/auth/register', {
      body: { email: 'client-member@example.com', password: 'another long passphrase' },
    });
    assert.equal(member.response.status, 201, JSON.stringify(member.error));
    const memberLogin = await tenant.POST('/api/auth/login', {
      body: { email: 'client-member@example.com', password: 'another long passphrase' },
    });
    assert.ok(memberLogin.data, JSON.stringify(memberLogin.error));
    tenant.tokens.set(memberLogin.data);
    const memberMe = await tenant.GET('/api/users/me');
    assert.ok(memberMe.data && 'role' in memberMe.data);
    const user: TenantUser = memberMe.data;
    assert.deepEqual([user.email, user.role, user.is_active], ['client-member@example.com', 'member', true]);

    // The owner lists the tenant's users through a tenant-only route (X-TENANT from the client).
    const users = await asOwner.GET('/api/users', { params: { query: { limit: 10 } } });
    assert.deepEqual(users.data?.items.map((u) => u.email).sort(), ['client-member@example.com', email]);
    // The member is not allowed to: a typed 403.
    const denied = await tenant.GET('/api/users');
    assert.equal(denied.response.status, 403);
    assert.equal(denied.error?.code, 'FORBIDDEN');
  });

  it('refreshes a token the server refuses, once, and replays the request with the new one', async () => {
    const email = 'client-refresh@example.com';
    const password = 'correct horse battery staple';
    const core = createTenantryClient({ baseUrl: server.baseUrl });
    await core.POST('/api/auth/register', { body: { email, password } });
    const link = await server.linkFromOutbox(email, '/api/auth/verify');
    await core.POST('/api/auth/verify', { body: { token: tokenOf(link) } });
    const login = await core.POST('/api/auth/login', { body: { email, password } });
    assert.ok(login.data);

    const requests: string[] = [];
    const store = memoryTokenStore({ ...login.data, access_token: 'not-a-valid-jwt' });
    const client = createTenantryClient({
      baseUrl: server.baseUrl,
      tokens: store,
      fetch: async (request) => {
        requests.push(`${request.method} ${new URL(request.url).pathname}`);
        return fetch(request);
      },
    });
    const [first, second] = await Promise.all([client.GET('/api/users/me'), client.GET('/api/users/me')]);
    assert.equal(first.data?.email, email);
    assert.equal(second.data?.email, email);
    assert.equal(requests.filter((r) => r === 'POST /api/auth/refresh').length, 1, requests.join(', '));
    const refreshed = store.get() as TokenResponse;
    assert.notEqual(refreshed.refresh_token, login.data.refresh_token, 'the rotated pair is stored');

    // A refresh token that is used up: the store is cleared and the 401 answered.
    store.set({ ...refreshed, access_token: 'not-a-valid-jwt', refresh_token: login.data.refresh_token });
    const refused = await client.GET('/api/users/me');
    assert.equal(refused.response.status, 401);
    assert.equal(refused.error?.code, 'TOKEN_INVALID');
    assert.equal(store.get(), null);
  });
});
