import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { API_CSP } from '../../src/http/plugins/security.js';
import { call } from '../helpers/flows.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const ALLOWED = 'https://app.example.com';
const OTHER = 'https://evil.example.net';

/** Content-Security-Policy as directive → sources. */
function csp(res: LightMyRequestResponse): Map<string, string[]> {
  const header = String(res.headers['content-security-policy'] ?? '');
  assert.ok(header, 'a Content-Security-Policy header');
  return new Map(
    header.split(';').map((directive) => {
      const [name = '', ...sources] = directive.trim().split(/\s+/);
      return [name, sources] as const;
    }),
  );
}

function assertSecurityHeaders(res: LightMyRequestResponse, what: string): void {
  assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', what);
  assert.match(String(res.headers['strict-transport-security']), /max-age=\d+/, what);
  assert.equal(res.headers['referrer-policy'], 'no-referrer', what);
  assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', what);
  assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin', what);
  // The rest of helmet's default set, which these headers replaced.
  assert.equal(res.headers['origin-agent-cluster'], '?1', what);
  assert.equal(res.headers['x-dns-prefetch-control'], 'off', what);
  assert.equal(res.headers['x-download-options'], 'noopen', what);
  assert.equal(res.headers['x-permitted-cross-domain-policies'], 'none', what);
  assert.equal(res.headers['x-xss-protection'], '0', what);
  assert.ok(res.headers['content-security-policy'], `${what}: Content-Security-Policy`);
}

function preflight(t: TestApp, origin: string) {
  return t.app.inject({
    method: 'OPTIONS',
    url: '/api/users/me',
    headers: {
      origin,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization,x-tenant',
    },
  });
}

describe('security headers and CORS', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp(
      { CORS_ORIGINS: `${ALLOWED}, https://admin.example.com` },
      {
        beforeReady: (app) => {
          app.get('/test-only/boom', () => {
            throw new Error('boom');
          });
        },
      },
    );
  });
  after(() => t.close());

  it('every answer carries them: 200, 404, 401, 422 and 500', async () => {
    const cases: [string, number, Promise<LightMyRequestResponse>][] = [
      ['GET /health', 200, call(t.app, 'GET', '/health')],
      ['GET /nope', 404, call(t.app, 'GET', '/nope')],
      ['GET /api/users/me', 401, call(t.app, 'GET', '/api/users/me')],
      ['POST /api/auth/login', 422, call(t.app, 'POST', '/api/auth/login', { body: { email: 'x' } })],
      ['GET /test-only/boom', 500, call(t.app, 'GET', '/test-only/boom')],
    ];
    for (const [what, status, pending] of cases) {
      const res = await pending;
      assert.equal(res.statusCode, status, `${what}: ${res.body}`);
      assertSecurityHeaders(res, what);
      assert.equal(res.headers['content-security-policy'], API_CSP, `${what}: the strict API policy`);
    }
  });

  it('the docs pages get a policy that lets Swagger UI and ReDoc run, and nothing inline to allow', async () => {
    for (const url of ['/docs/', '/redoc']) {
      const res = await call(t.app, 'GET', url);
      assert.equal(res.statusCode, 200, url);
      assertSecurityHeaders(res, url);
      const policy = csp(res);
      assert.deepEqual(policy.get('script-src'), ["'self'"], `${url}: scripts only from this server`);
      assert.ok(policy.get('style-src')?.includes("'unsafe-inline'"), `${url}: inline styles`);
      assert.ok(policy.get('worker-src')?.includes('blob:'), `${url}: blob: workers (ReDoc search)`);
      assert.ok(policy.get('img-src')?.includes('data:'), `${url}: data: images`);
      assert.ok(policy.get('connect-src')?.includes("'self'"), `${url}: fetches the OpenAPI document`);
      assert.ok(!policy.has('upgrade-insecure-requests'), `${url}: usable over plain HTTP`);
      // With script-src 'self', every script must be an external, same-origin file, and it must be served.
      const scripts = [...res.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      assert.ok(scripts.length > 0, url);
      for (const [, attributes = '', content = ''] of scripts) {
        assert.equal(content.trim(), '', `${url}: no inline script`);
        const src = /src="([^"]+)"/.exec(attributes)?.[1];
        assert.ok(src && !/^(https?:)?\/\//.test(src), `${url}: script ${src} is same-origin`);
        const asset = await call(t.app, 'GET', new URL(src, `http://localhost${url}`).pathname);
        assert.equal(asset.statusCode, 200, `${src} is served`);
      }
      assert.doesNotMatch(res.body, /\son[a-z]+="/, `${url}: no inline event handlers`);
    }
  });

  it('a CORS preflight from an allowed origin passes, with the headers the API needs', async () => {
    const res = await preflight(t, ALLOWED);
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], ALLOWED);
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
    for (const header of ['authorization', 'content-type', 'x-tenant'])
      assert.ok(allowed.includes(header), header);
    assert.match(String(res.headers['access-control-allow-methods']), /PATCH/);
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assertSecurityHeaders(res, 'preflight');
  });

  it('any other origin gets no Access-Control-Allow-Origin, on preflights and on requests', async () => {
    const pre = await preflight(t, OTHER);
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    const res = await call(t.app, 'GET', '/health', { headers: { origin: OTHER } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  it('an allowed origin may read the request id and rate-limit headers of an answer', async () => {
    const res = await call(t.app, 'GET', '/api/users/me', {
      headers: { origin: 'https://admin.example.com' },
    });
    assert.equal(res.headers['access-control-allow-origin'], 'https://admin.example.com');
    assert.match(String(res.headers['access-control-expose-headers']), /x-request-id/);
    assert.match(String(res.headers.vary), /origin/i);
  });

  it('without CORS_ORIGINS no CORS header is sent at all', async () => {
    const plain = await createTestApp();
    try {
      const pre = await preflight(plain, ALLOWED);
      assert.equal(pre.headers['access-control-allow-origin'], undefined);
      const res = await call(plain.app, 'GET', '/health', { headers: { origin: ALLOWED } });
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assertSecurityHeaders(res, 'GET /health without CORS');
    } finally {
      await plain.close();
    }
  });
});

describe('client addresses behind a proxy (TRUST_PROXY)', () => {
  it('with the proxy listed, the address it saw wins over what the client wrote into X-Forwarded-For', async () => {
    const t = await createTestApp(
      // app.inject() connects from 127.0.0.1: that is "the load balancer" here.
      { TRUST_PROXY: '127.0.0.1' },
      { beforeReady: (app) => app.get('/test-only/ip', (request) => ({ ip: request.ip })) },
    );
    try {
      const res = await call(t.app, 'GET', '/test-only/ip', {
        headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' },
      });
      assert.deepEqual(res.json(), { ip: '203.0.113.9' });
      const direct = await call(t.app, 'GET', '/test-only/ip');
      assert.deepEqual(direct.json(), { ip: '127.0.0.1' });
    } finally {
      await t.close();
    }
  });
});
