import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { NEEDS_POSTGRES } from '../helpers/test-env.js';
import { call, ownerWithOrganization } from '../helpers/flows.js';

// Two app instances on one core database, as two server processes would be (so PostgreSQL in every run). The
// cache TTL is far above the test's patience: only the Redis pub/sub can make B notice a change in time.
const ENV = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  TENANT_CACHE_TTL_MS: '600000',
  TENANT_BASE_DOMAIN: 'example.com',
};

let a: TestApp;
let b: FastifyInstance;
before(async () => {
  if (NEEDS_POSTGRES) return;
  a = await createTestApp(ENV, { engine: 'postgres' });
  b = await buildApp(loadConfig(a.env), {
    core: a.app.core,
    logger: false,
    migrate: false,
    reconcile: false,
  });
  await b.ready();
});
after(async () => {
  await b?.close();
  await a?.close();
});

/** Polls until `check` holds, up to `withinMs`; true when it did. */
async function eventually(check: () => Promise<boolean>, withinMs = 2_000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

/** The status B answers for GET /api/users on `host` with `token`. */
async function statusOnB(host: string, token: string): Promise<number> {
  const res = await b.inject({
    method: 'GET',
    url: '/api/users',
    headers: { host, authorization: `Bearer ${token}` },
  });
  return res.statusCode;
}

describe('host resolution cache across processes', { skip: NEEDS_POSTGRES }, () => {
  it('a domain attached, removed, or its organization deleted through A reaches B at once (Redis pub/sub)', async () => {
    const { owner, org, tenantTokens } = await ownerWithOrganization(
      a.app,
      'hosts@example.com',
      'Hosts',
      'hosts',
    );
    const token = tenantTokens.access_token;
    const ownerToken = owner.tokens.access_token;
    // B caches "no tenant" for the domain, and the tenant behind the subdomain.
    assert.equal(await statusOnB('hosts.io', token), 400);
    assert.equal(await statusOnB('hosts.example.com', token), 200);

    const added = await call(a.app, 'POST', `/api/organizations/${org.id}/domains`, {
      token: ownerToken,
      body: { domain: 'hosts.io' },
    });
    assert.equal(added.statusCode, 201, added.body);
    assert.ok(await eventually(async () => (await statusOnB('hosts.io', token)) === 200), 'attached on B');

    const removed = await call(a.app, 'DELETE', `/api/organizations/${org.id}/domains/hosts.io`, {
      token: ownerToken,
    });
    assert.equal(removed.statusCode, 204);
    assert.ok(await eventually(async () => (await statusOnB('hosts.io', token)) === 400), 'removed on B');

    // Attached again, then the organization is deleted: B stops routing both hosts to it.
    const again = await call(a.app, 'POST', `/api/organizations/${org.id}/domains`, {
      token: ownerToken,
      body: { domain: 'hosts.io' },
    });
    assert.equal(again.statusCode, 201);
    assert.ok(await eventually(async () => (await statusOnB('hosts.io', token)) === 200));
    const deleted = await call(a.app, 'DELETE', `/api/organizations/${org.id}`, { token: ownerToken });
    assert.equal(deleted.statusCode, 204);
    for (const host of ['hosts.io', 'hosts.example.com']) {
      assert.ok(await eventually(async () => (await statusOnB(host, token)) === 400), `${host} on B`);
    }
  });
});
