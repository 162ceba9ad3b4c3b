import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { call, ownerWithOrganization, type Tokens } from '../helpers/flows.js';

// Tenant by host: `<slug>.example.com` and custom domains select the tenant as X-TENANT would. The proxy at
// 10.0.0.1 is trusted (TRUST_PROXY); app.inject's own requests come from 127.0.0.1, which is not.
const PROXY = '10.0.0.1';
let t: TestApp;
type Setup = Awaited<ReturnType<typeof ownerWithOrganization>>;
let acme: Setup;
let globex: Setup;
let acmeMember: Tokens;
let globexMember: Tokens;

before(async () => {
  t = await createTestApp({
    TENANT_BASE_DOMAIN: 'Example.com',
    TRUST_PROXY: PROXY,
    PUBLIC_URL: 'https://api.tenantry.test',
    CORS_ORIGINS: 'https://*.example.com, https://app.tenantry.test',
  });
  acme = await ownerWithOrganization(t.app, 'owner-acme@example.com', 'Acme', 'acme');
  globex = await ownerWithOrganization(t.app, 'owner-globex@example.com', 'Globex', 'globex');
  acmeMember = await member('acme', 'member@acme.test');
  globexMember = await member('globex', 'member@globex.test');
});
after(() => t.close());

async function member(tenant: string, email: string): Promise<Tokens> {
  const body = { email, password: 'member password' };
  const reg = await call(t.app, 'POST', '/api/auth/register', { tenant, body });
  assert.equal(reg.statusCode, 201, reg.body);
  const login = await call(t.app, 'POST', '/api/auth/login', { tenant, body });
  assert.equal(login.statusCode, 200, login.body);
  return login.json<Tokens>();
}

/** A request to `host`, with a bearer token, X-TENANT and other headers when given. */
function at(
  host: string,
  method: InjectOptions['method'],
  url: string,
  options: {
    token?: string;
    tenant?: string | number;
    body?: unknown;
    headers?: Record<string, string>;
    from?: string;
  } = {},
) {
  const headers: Record<string, string> = { host, ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.tenant !== undefined) headers['x-tenant'] = String(options.tenant);
  return t.app.inject({
    method,
    url,
    headers,
    ...(options.from ? { remoteAddress: options.from } : {}),
    ...(options.body === undefined ? {} : { payload: options.body as InjectOptions['payload'] }),
  });
}

function codeOf(res: { json: <T>() => T }): string {
  return res.json<{ code: string }>().code;
}

async function addDomain(owner: Setup, domain: string) {
  return call(t.app, 'POST', `/api/organizations/${owner.org.id}/domains`, {
    token: owner.owner.tokens.access_token,
    body: { domain },
  });
}

async function removeDomain(owner: Setup, domain: string) {
  return call(t.app, 'DELETE', `/api/organizations/${owner.org.id}/domains/${domain}`, {
    token: owner.owner.tokens.access_token,
  });
}

describe('tenant subdomains of TENANT_BASE_DOMAIN', () => {
  it('runs a request to acme.example.com in tenant acme, as X-TENANT: acme would', async () => {
    const me = await at('acme.example.com', 'GET', '/api/users/me', { token: acmeMember.access_token });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json<{ email: string }>().email, 'member@acme.test');
    // Hosts compare case-insensitively; the port and one trailing dot do not matter.
    for (const host of ['ACME.Example.COM:8443', 'acme.example.com.']) {
      const res = await at(host, 'GET', '/api/users/me', { token: acmeMember.access_token });
      assert.equal(res.statusCode, 200, `${host}: ${res.body}`);
    }
    // Sign-up and login by host land in that tenant only.
    const body = { email: 'by-host@acme.test', password: 'member password' };
    assert.equal((await at('acme.example.com', 'POST', '/api/auth/register', { body })).statusCode, 201);
    const login = await at('acme.example.com', 'POST', '/api/auth/login', { body });
    assert.equal(login.statusCode, 200, login.body);
    const users = await call(t.app, 'GET', '/api/users?limit=100', {
      tenant: 'acme',
      token: acme.tenantTokens.access_token,
    });
    assert.ok(users.json<{ items: { email: string }[] }>().items.some((u) => u.email === body.email));
    const there = await call(t.app, 'POST', '/api/auth/login', { tenant: 'globex', body });
    assert.equal(there.statusCode, 401, 'not a user of globex');
  });

  it('selects no tenant on the bare base domain, unknown subdomains and deeper names', async () => {
    for (const host of [
      'example.com',
      'nosuch.example.com',
      'a.acme.example.com',
      'acme_x.example.com',
      'api.tenantry.test',
      'localhost',
      '127.0.0.1:8000',
      '[::1]:8000',
    ]) {
      const tenantOnly = await at(host, 'GET', '/api/users', { token: acmeMember.access_token });
      assert.equal(tenantOnly.statusCode, 400, host);
      assert.equal(codeOf(tenantOnly), 'TENANT_REQUIRED', host);
      // On a route of both planes it is the core plane: the core token works, a tenant token does not.
      const core = await at(host, 'GET', '/api/users/me', { token: acme.owner.tokens.access_token });
      assert.equal(core.statusCode, 200, `${host}: ${core.body}`);
      assert.equal(core.json<{ email: string }>().email, 'owner-acme@example.com');
    }
  });

  it('ignores a host-derived tenant on core-only routes', async () => {
    const res = await at('acme.example.com', 'GET', '/api/organizations', {
      token: globex.owner.tokens.access_token,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      res.json<{ items: { id: number }[] }>().items.map((o) => o.id),
      [globex.org.id],
    );
  });

  it('refuses a token of one tenant on another tenant’s host', async () => {
    const res = await at('globex.example.com', 'GET', '/api/users/me', { token: acmeMember.access_token });
    assert.equal(res.statusCode, 401);
    assert.equal(codeOf(res), 'TOKEN_INVALID');
    const owner = await at('globex.example.com', 'GET', '/api/users', {
      token: acme.tenantTokens.access_token,
    });
    assert.equal(owner.statusCode, 401);
    assert.equal(codeOf(owner), 'TOKEN_INVALID');
    // And the refresh token of acme is no good on globex's host either.
    const refresh = await at('globex.example.com', 'POST', '/api/auth/refresh', {
      body: { refresh_token: acmeMember.refresh_token },
    });
    assert.equal(refresh.statusCode, 401);
  });
});

describe('X-TENANT together with a host-derived tenant', () => {
  it('answers 400 TENANT_CONFLICT when they name different organizations, by slug or id', async () => {
    for (const tenant of ['globex', globex.org.id]) {
      const res = await at('acme.example.com', 'GET', '/api/users/me', {
        tenant,
        token: globexMember.access_token,
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(codeOf(res), 'TENANT_CONFLICT');
    }
    // Before authentication and before anything else: a login is not even tried.
    const login = await at('acme.example.com', 'POST', '/api/auth/login', {
      tenant: 'globex',
      body: { email: 'member@globex.test', password: 'member password' },
    });
    assert.equal(codeOf(login), 'TENANT_CONFLICT');
  });

  it('accepts an X-TENANT naming the same organization, by slug or id', async () => {
    for (const tenant of ['acme', acme.org.id]) {
      const res = await at('acme.example.com', 'GET', '/api/users/me', {
        tenant,
        token: acmeMember.access_token,
      });
      assert.equal(res.statusCode, 200, res.body);
    }
  });

  it('keeps the header rules: malformed is 400 TENANT_INVALID, unknown 404, on any host', async () => {
    const bad = await at('acme.example.com', 'GET', '/api/users/me', { tenant: 'Acme' });
    assert.equal(codeOf(bad), 'TENANT_INVALID');
    const unknown = await at('acme.example.com', 'GET', '/api/users/me', { tenant: 'nosuch' });
    assert.equal(codeOf(unknown), 'TENANT_NOT_FOUND');
    // An unknown subdomain selects nothing, so the header alone decides.
    const header = await at('nosuch.example.com', 'GET', '/api/users/me', {
      tenant: 'globex',
      token: globexMember.access_token,
    });
    assert.equal(header.statusCode, 200, header.body);
  });
});

describe('X-Forwarded-Host', () => {
  it('is believed only from a proxy TRUST_PROXY trusts', async () => {
    const headers = { 'x-forwarded-host': 'acme.example.com' };
    const trusted = await at('internal:8000', 'GET', '/api/users/me', {
      headers,
      from: PROXY,
      token: acmeMember.access_token,
    });
    assert.equal(trusted.statusCode, 200, trusted.body);
    assert.equal(trusted.json<{ email: string }>().email, 'member@acme.test');

    // From anyone else the header is ignored: the Host decides (here: no tenant, then globex).
    const untrusted = await at('internal:8000', 'GET', '/api/users', {
      headers,
      from: '203.0.113.9',
      token: acmeMember.access_token,
    });
    assert.equal(codeOf(untrusted), 'TENANT_REQUIRED');
    const direct = await at('globex.example.com', 'GET', '/api/users/me', {
      headers,
      token: globexMember.access_token,
    });
    assert.equal(direct.statusCode, 200, direct.body);
    assert.equal(direct.json<{ email: string }>().email, 'member@globex.test');
  });
});

describe('custom domains', () => {
  it('attaches a domain (lower-cased) that then selects the organization', async () => {
    // Asked before it exists: the cached "unknown" must not outlive the attachment.
    assert.equal(codeOf(await at('shop.acme.io', 'GET', '/api/users')), 'TENANT_REQUIRED');
    const added = await addDomain(acme, 'Shop.Acme.IO');
    assert.equal(added.statusCode, 201, added.body);
    const view = added.json<{ domain: string; created_at: string }>();
    assert.equal(view.domain, 'shop.acme.io');
    assert.ok(!Number.isNaN(Date.parse(view.created_at)));
    assert.deepEqual(Object.keys(view).sort(), ['created_at', 'domain']);

    const me = await at('SHOP.acme.io:443', 'GET', '/api/users/me', { token: acmeMember.access_token });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json<{ email: string }>().email, 'member@acme.test');

    const listed = await call(t.app, 'GET', `/api/organizations/${acme.org.id}/domains`, {
      token: acme.owner.tokens.access_token,
    });
    assert.equal(listed.statusCode, 200);
    assert.deepEqual(listed.json<{ items: { domain: string }[]; next_cursor: null }>(), {
      items: [view],
      next_cursor: null,
    });
  });

  it('refuses another tenant’s token, and a conflicting X-TENANT, on the custom domain', async () => {
    const token = await at('shop.acme.io', 'GET', '/api/users/me', { token: globexMember.access_token });
    assert.equal(token.statusCode, 401);
    assert.equal(codeOf(token), 'TOKEN_INVALID');
    const conflict = await at('shop.acme.io', 'GET', '/api/users/me', {
      tenant: globex.org.id,
      token: globexMember.access_token,
    });
    assert.equal(codeOf(conflict), 'TENANT_CONFLICT');
    const same = await at('shop.acme.io', 'GET', '/api/users/me', {
      tenant: acme.org.id,
      token: acmeMember.access_token,
    });
    assert.equal(same.statusCode, 200);
  });

  it('answers 409 DOMAIN_TAKEN for a domain a live organization has (its own included)', async () => {
    for (const [owner, domain] of [
      [globex, 'shop.acme.io'],
      [globex, 'SHOP.ACME.IO.'],
      [acme, 'shop.acme.io'],
    ] as const) {
      const res = await addDomain(owner, domain);
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(codeOf(res), 'DOMAIN_TAKEN');
    }
  });

  it('answers 422 for what is not a host name, the base domain and its subdomains, and the server’s host', async () => {
    for (const domain of [
      'not a host',
      'localhost',
      '127.0.0.1',
      'a..b.io',
      '-acme.io',
      'acme_shop.io',
      'https://shop.acme.io',
      'shop.acme.io:8443',
      'shöp.acme.io',
      `${'a'.repeat(64)}.io`,
      'example.com',
      'globex.example.com',
      'new.example.com',
      'API.tenantry.test',
    ]) {
      const res = await addDomain(globex, domain);
      assert.equal(res.statusCode, 422, `${domain}: ${res.body}`);
      assert.equal(codeOf(res), 'VALIDATION_ERROR');
    }
    const empty = await addDomain(globex, '');
    assert.equal(empty.statusCode, 422);
  });

  it('is managed by the owner of the organization only (404 for anyone else’s)', async () => {
    const token = globex.owner.tokens.access_token;
    const base = `/api/organizations/${acme.org.id}/domains`;
    for (const res of [
      await call(t.app, 'GET', base, { token }),
      await call(t.app, 'POST', base, { token, body: { domain: 'other.acme.io' } }),
      await call(t.app, 'DELETE', `${base}/shop.acme.io`, { token }),
    ]) {
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(codeOf(res), 'NOT_FOUND');
    }
    const tenantToken = await call(t.app, 'GET', base, { token: acme.tenantTokens.access_token });
    assert.equal(tenantToken.statusCode, 401);
    const header = await call(t.app, 'GET', base, { token: acme.owner.tokens.access_token, tenant: 'acme' });
    assert.equal(codeOf(header), 'TENANT_NOT_ALLOWED');
  });

  it('stops routing a removed domain at once, and frees it', async () => {
    assert.equal(
      (await at('shop.acme.io', 'GET', '/api/users/me', { token: acmeMember.access_token })).statusCode,
      200,
    );
    const removed = await removeDomain(acme, 'SHOP.acme.io');
    assert.equal(removed.statusCode, 204, removed.body);
    const after = await at('shop.acme.io', 'GET', '/api/users', { token: acme.tenantTokens.access_token });
    assert.equal(codeOf(after), 'TENANT_REQUIRED');
    const again = await removeDomain(acme, 'shop.acme.io');
    assert.equal(again.statusCode, 404);
    // Free for another organization now, and it routes there.
    assert.equal((await addDomain(globex, 'shop.acme.io')).statusCode, 201);
    const there = await at('shop.acme.io', 'GET', '/api/users/me', { token: globexMember.access_token });
    assert.equal(there.statusCode, 200, there.body);
    assert.equal(there.json<{ email: string }>().email, 'member@globex.test');
    assert.equal((await removeDomain(globex, 'shop.acme.io')).statusCode, 204);
  });

  it('stops routing an organization’s subdomain and domains when it is deleted, and frees its domains', async () => {
    const initech = await ownerWithOrganization(t.app, 'owner-initech@example.com', 'Initech', 'initech');
    assert.equal((await addDomain(initech, 'initech.io')).statusCode, 201);
    const token = initech.tenantTokens.access_token;
    for (const host of ['initech.io', 'initech.example.com']) {
      const res = await at(host, 'GET', '/api/users', { token });
      assert.equal(res.statusCode, 200, `${host}: ${res.body}`);
    }

    const deleted = await call(t.app, 'DELETE', `/api/organizations/${initech.org.id}`, {
      token: initech.owner.tokens.access_token,
    });
    assert.equal(deleted.statusCode, 204);
    for (const host of ['initech.io', 'initech.example.com']) {
      const res = await at(host, 'GET', '/api/users', { token });
      assert.equal(codeOf(res), 'TENANT_REQUIRED', host);
    }
    const rows = await t.app.core.db.selectFrom('organization_domains').selectAll().execute();
    assert.ok(!rows.some((row) => row.domain === 'initech.io'), 'freed');
    assert.equal((await addDomain(globex, 'initech.io')).statusCode, 201);
    assert.equal((await removeDomain(globex, 'initech.io')).statusCode, 204);
  });

  it('treats a domain row left behind by a deleted organization as free', async () => {
    const hooli = await ownerWithOrganization(t.app, 'owner-hooli@example.com', 'Hooli', 'hooli');
    assert.equal((await addDomain(hooli, 'hooli.io')).statusCode, 201);
    // As if the process died between dropping the tenant and freeing its domains.
    await t.app.services.provisioner.deprovision(hooli.org.id, (placement) =>
      t.app.services.tenants.close(hooli.org.id, placement),
    );
    t.app.services.tenants.invalidate(hooli.org.id);
    assert.equal(codeOf(await at('hooli.io', 'GET', '/api/users')), 'TENANT_REQUIRED');
    const taken = await addDomain(globex, 'hooli.io');
    assert.equal(taken.statusCode, 201, taken.body);
    const there = await at('hooli.io', 'GET', '/api/users/me', { token: globexMember.access_token });
    assert.equal(there.statusCode, 200, there.body);
    assert.equal((await removeDomain(globex, 'hooli.io')).statusCode, 204);
  });

  it('answers a suspended organization’s host 403, as X-TENANT would', async () => {
    assert.equal((await addDomain(globex, 'globex.io')).statusCode, 201);
    await t.app.services.organizationRows.setStatus(globex.org.id, 'active', 'suspended');
    t.app.services.tenants.invalidate(globex.org.id);
    try {
      for (const host of ['globex.io', 'globex.example.com']) {
        const res = await at(host, 'GET', '/api/users/me', { token: globexMember.access_token });
        assert.equal(res.statusCode, 403, host);
        assert.equal(codeOf(res), 'TENANT_SUSPENDED');
      }
    } finally {
      await t.app.services.organizationRows.setStatus(globex.org.id, 'suspended', 'active');
      t.app.services.tenants.invalidate(globex.org.id);
    }
    assert.equal((await removeDomain(globex, 'globex.io')).statusCode, 204);
  });
});

describe('CORS for the tenant subdomains (CORS_ORIGINS=https://*.example.com)', () => {
  function preflight(origin: string) {
    return t.app.inject({
      method: 'OPTIONS',
      url: '/api/users/me',
      headers: {
        origin,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
  }

  it('allows any subdomain of the host with that scheme, never the bare domain or a look-alike', async () => {
    for (const origin of [
      'https://acme.example.com',
      'https://a.b.example.com',
      'https://app.tenantry.test',
    ]) {
      const res = await preflight(origin);
      assert.equal(res.statusCode, 204, origin);
      assert.equal(res.headers['access-control-allow-origin'], origin, origin);
    }
    for (const origin of [
      'https://example.com',
      'https://evil-example.com',
      'https://acme.example.com.evil.io',
      'http://acme.example.com',
      'https://acme.example.com:8443',
    ]) {
      const res = await preflight(origin);
      assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
    }
    const answer = await at('acme.example.com', 'GET', '/api/users/me', {
      token: acmeMember.access_token,
      headers: { origin: 'https://acme.example.com' },
    });
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.headers['access-control-allow-origin'], 'https://acme.example.com');
  });
});
