import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { NEEDS_POSTGRES } from '../helpers/test-env.js';
import { call, ownerWithOrganization } from '../helpers/flows.js';

// Two app instances on one core database, as two server processes would be (so PostgreSQL in every run: an
// embedded database belongs to one process). The cache TTL is set far above the test's patience, so only the
// Redis pub/sub can make the second instance notice a change in time.
const ENV = { REDIS_URL: 'redis://127.0.0.1:6379', TENANT_CACHE_TTL_MS: '600000' };

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

async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < withinMs) {
    if (await check()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return -1;
}

describe('tenant resolution cache across processes', { skip: NEEDS_POSTGRES }, () => {
  it('a change made through one instance reaches the other within a second (Redis pub/sub)', async () => {
    const { owner, org } = await ownerWithOrganization(a.app, 'bus@example.com', 'Bus', 'bus');
    const body = { email: 'first@example.com', password: 'long enough' };
    assert.equal(
      (await call(b, 'POST', '/api/auth/register', { tenant: 'bus', body })).statusCode,
      201,
      'B caches the tenant',
    );

    const patched = await call(a.app, 'PATCH', `/api/organizations/${org.id}`, {
      token: owner.tokens.access_token,
      body: { allow_signup: false },
    });
    assert.equal(patched.statusCode, 200);
    const took = await eventually(async () => {
      const res = await call(b, 'POST', '/api/auth/register', {
        tenant: 'bus',
        body: { ...body, email: `x${Date.now()}@example.com` },
      });
      return res.statusCode === 403;
    }, 1_000);
    assert.ok(took >= 0, 'B saw sign-up disabled within a second');

    // Deletion too: B stops resolving the slug.
    const deleted = await call(a.app, 'DELETE', `/api/organizations/${org.id}`, {
      token: owner.tokens.access_token,
    });
    assert.equal(deleted.statusCode, 204);
    const gone = await eventually(async () => {
      const res = await call(b, 'POST', '/api/auth/login', { tenant: 'bus', body });
      return res.statusCode === 404;
    }, 1_000);
    assert.ok(gone >= 0, 'B answered 404 for the deleted tenant within a second');
  });
});
