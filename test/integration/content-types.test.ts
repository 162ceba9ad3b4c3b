import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, ownerWithOrganization, type Tokens } from '../helpers/flows.js';
import { concreteUrl, contextRecorder, describeRoutes, type RouteInfo } from '../helpers/route-table.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const recorder = contextRecorder();
let t: TestApp;
let routes: RouteInfo[];
let setup: Awaited<ReturnType<typeof ownerWithOrganization>>;

before(async () => {
  t = await createTestApp({}, { beforeReady: (app) => recorder.install(app) });
  routes = await describeRoutes(t.app, recorder);
  setup = await ownerWithOrganization(t.app, 'types@example.com', 'Types Org');
});
after(() => t.close());

const NOT_JSON: [string, string][] = [
  [
    'application/x-www-form-urlencoded',
    'email=a%40example.com&password=long+enough+pw&refresh_token=x&name=n',
  ],
  ['text/plain', '{"email":"a@example.com","password":"long enough pw","refresh_token":"x","name":"n"}'],
  ['text/plain; charset=utf-8', '{"name":"n"}'],
  [
    'multipart/form-data; boundary=x',
    '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nn\r\n--x--\r\n',
  ],
  ['application/xml', '<name>n</name>'],
];

/** Credentials that get a route past its guards, so the answer is about the body. */
function credentials(route: RouteInfo, tokens: { core: Tokens; tenant: Tokens }, tenantId: number) {
  if (route.context === 'tenant')
    return { authorization: `Bearer ${tokens.tenant.access_token}`, 'x-tenant': String(tenantId) };
  return { authorization: `Bearer ${tokens.core.access_token}` };
}

describe('request bodies are JSON (login also takes the OAuth2 form)', () => {
  it('every /api route with a body answers any other content type with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const bodyRoutes = routes.filter((route) => route.body && route.url.startsWith('/api/'));
    assert.ok(bodyRoutes.length >= 10, `found only ${bodyRoutes.length} body routes`);
    const tokens = { core: setup.owner.tokens, tenant: setup.tenantTokens };
    for (const route of bodyRoutes) {
      for (const [type, payload] of NOT_JSON) {
        const isLoginForm = route.url === '/api/auth/login' && type === 'application/x-www-form-urlencoded';
        if (isLoginForm) continue;
        const res = await t.app.inject({
          method: route.method as 'POST',
          url: concreteUrl(route.url, { id: setup.org.id }),
          headers: { ...credentials(route, tokens, setup.org.id), 'content-type': type },
          payload,
        });
        const what = `${route.method} ${route.url} with ${type}`;
        assert.equal(res.statusCode, 415, `${what}: ${res.statusCode} ${res.body}`);
        assert.deepEqual(
          Object.keys(res.json<object>()).sort(),
          ['code', 'detail'],
          `${what}: documented error shape`,
        );
        assert.equal(res.json<{ code: string }>().code, 'UNSUPPORTED_MEDIA_TYPE', what);
      }
    }
  });

  it('JSON with a charset is accepted, and login still takes the form (Swagger UI authorize)', async () => {
    const form = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'username=types%40example.com&password=correct+horse+battery',
    });
    assert.equal(form.statusCode, 200, form.body);
    const json = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify({ email: 'types@example.com', password: 'correct horse battery' }),
    });
    assert.equal(json.statusCode, 200, json.body);
    const tenantForm = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-tenant': setup.org.slug },
      payload: 'username=nobody%40example.com&password=whatever',
    });
    assert.equal(tenantForm.statusCode, 401, tenantForm.body);
  });

  it('a body route called without a body is 422', async () => {
    const res = await call(t.app, 'POST', '/api/auth/refresh');
    assert.equal(res.statusCode, 422, res.body);
  });
});
