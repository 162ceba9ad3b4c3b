import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Type } from 'typebox';
import { buildApp } from '../../src/app.js';
import { openCoreDb } from '../../src/db/core-database.js';
import { FAVICON_SVG } from '../../src/http/plugins/docs.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;

before(async () => {
  t = await createTestApp(
    { BODY_LIMIT: '2048' },
    {
      beforeReady(app) {
        // A probe route with a body schema, to exercise the error model independently of feature routes.
        app.post(
          '/probe',
          {
            schema: {
              body: Type.Object({ email: Type.String({ format: 'email' }), n: Type.Integer({ minimum: 1 }) }),
            },
          },
          () => ({ ok: true }),
        );
        app.get('/boom', () => {
          throw new Error('secret internals: password=hunter2');
        });
      },
    },
  );
});
after(() => t.close());

describe('operations endpoints', () => {
  it('GET / names the service', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    const body = res.json<{ name: string; version: string; docs: string }>();
    assert.equal(body.name, 'Tenantry');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.equal(body.docs, '/docs');
  });

  it('GET /health is healthy and ignores X-TENANT', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-tenant': '!!bad!!' } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'healthy' });
  });

  it('GET /health/ready checks the core database', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 200);
    const body = res.json<{ status: string; checks: { core_database: { status: string } } }>();
    assert.equal(body.status, 'ready');
    assert.equal(body.checks.core_database.status, 'ok');
  });

  it('GET /openapi.json is an OpenAPI 3 document listing the routes', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json<{ openapi: string; paths: Record<string, unknown> }>();
    assert.match(doc.openapi, /^3\./);
    assert.ok(doc.paths['/health/ready']);
  });

  it('GET /docs serves Swagger UI from the installed package', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger-ui/i);
    const script = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    assert.equal(script.statusCode, 200);
    assert.ok(script.body.length > 100_000);
  });

  it('Swagger UI has no top bar, a title and the site icon', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs/' });
    assert.match(page.body, /<title>Tenantry API<\/title>/);
    const icon = /<link rel="icon" type="image\/svg\+xml" href="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(icon, 'the page links an SVG icon');
    const served = await t.app.inject({ method: 'GET', url: new URL(icon, 'http://x/docs/').pathname });
    assert.equal(served.statusCode, 200);
    assert.match(String(served.headers['content-type']), /^image\/svg\+xml/);
    assert.equal(served.body, FAVICON_SVG);
    const init = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    assert.match(init.body, /"layout":\s*"BaseLayout"/, 'the layout without the top bar');
  });

  it('GET /favicon.svg and /favicon.ico answer the site icon', async () => {
    for (const url of ['/favicon.svg', '/favicon.ico']) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.match(String(res.headers['content-type']), /^image\/svg\+xml/);
      assert.match(res.body, /^<svg /);
    }
  });

  it('GET /redoc serves ReDoc and its script locally', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/redoc' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<redoc spec-url="\/openapi.json">/);
    assert.doesNotMatch(page.body, /https?:\/\//, 'no external asset URLs');
    const script = await t.app.inject({ method: 'GET', url: '/redoc/redoc.standalone.js' });
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers['content-type']), /javascript/);
    assert.ok(script.body.length > 500_000);
    assert.match(page.body, /<link rel="icon" type="image\/svg\+xml" href="\/favicon.svg" \/>/);
    // Redocly's footer logo would be fetched from its CDN, which the docs CSP (img-src 'self' data:) blocks.
    assert.doesNotMatch(script.body, /cdn\.redoc\.ly/);
    assert.match(script.body, /alt:"redocly logo",onError:[^,]+,src:"data:image\/svg\+xml,/);
  });
});

describe('error model', () => {
  it('unknown routes answer 404 in the error shape', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/nope?x=1' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { detail: 'No route for GET /nope', code: 'ROUTE_NOT_FOUND' });
  });

  it('bad JSON answers 400 INVALID_JSON', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/probe',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": ',
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json<{ code: string }>().code, 'INVALID_JSON');
  });

  it('a wrong content type answers 415', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/probe',
      headers: { 'content-type': 'application/xml' },
      payload: '<a/>',
    });
    assert.equal(res.statusCode, 415);
    assert.equal(res.json<{ code: string }>().code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('an oversize body answers 413', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/probe',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'a@b.co', n: 1, pad: 'x'.repeat(4096) }),
    });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json<{ code: string }>().code, 'PAYLOAD_TOO_LARGE');
  });

  it('schema violations answer 422 with one entry per problem path', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/probe',
      payload: { email: 'not-an-email', n: 1 },
    });
    assert.equal(res.statusCode, 422);
    const body = res.json<{ code: string; detail: string; errors: { path: string; message: string }[] }>();
    assert.equal(body.code, 'VALIDATION_ERROR');
    assert.equal(body.errors[0]?.path, '/email');
    const missing = await t.app.inject({ method: 'POST', url: '/probe', payload: { email: 'a@b.co' } });
    assert.equal(missing.statusCode, 422);
    assert.equal(missing.json<{ errors: { path: string }[] }>().errors[0]?.path, '/n');
  });

  it('valid input passes', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/probe', payload: { email: 'a@b.co', n: 2 } });
    assert.equal(res.statusCode, 200);
  });

  it('unexpected errors answer 500 without internals and carry the request id', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/boom', headers: { 'x-request-id': 'trace-123' } });
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { detail: 'Internal server error', code: 'INTERNAL_ERROR' });
    assert.equal(res.headers['x-request-id'], 'trace-123');
    assert.doesNotMatch(res.body, /hunter2|stack/);
  });

  it('ignores an unsafe incoming request id', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'a b<script>' },
    });
    assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });
});

describe('readiness when the core database is down', () => {
  it('answers 503 with the failing check and Retry-After', async () => {
    // A real pool aimed at a port where nothing listens: the same failure as a database that went away.
    const core = await openCoreDb({ ...t.config, databaseUrl: 'postgres://postgres@127.0.0.1:9/none' });
    const app = await buildApp(t.config, { core, migrate: false, reconcile: false, logger: false });
    try {
      const res = await app.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['retry-after'], '5');
      const body = res.json<{
        status: string;
        checks: { core_database: { status: string; error: string } };
      }>();
      assert.equal(body.status, 'unavailable');
      assert.equal(body.checks.core_database.status, 'failed');
      assert.ok(body.checks.core_database.error.length > 0);
    } finally {
      await app.close();
      await core.close();
    }
  });
});
