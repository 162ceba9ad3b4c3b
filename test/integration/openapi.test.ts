import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openApiArtifacts, staleArtifacts } from '../../scripts/openapi-artifacts.js';
import { ERRORS } from '../../src/errors.js';
import {
  documentedCodes,
  recordErrorAnswers,
  undocumentedAnswers,
  type ErrorAnswer,
} from '../helpers/documented-errors.js';
import { call, ownerWithOrganization, verifiedCoreUser } from '../helpers/flows.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Json[];
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema: Json; examples?: Json }> }
  >;
}
interface Document {
  info: { license?: { name: string } };
  servers?: { url: string }[];
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}

let t: TestApp;
let doc: Document;
let answered: ErrorAnswer[] = [];

before(async () => {
  t = await createTestApp({}, { beforeReady: (app) => void (answered = recordErrorAnswers(app)) });
  doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<Document>();
});
after(() => t?.close());

function operations(): [string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(
      ([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, Operation],
    ),
  );
}

const documented = (method: string, route: string, status: number) =>
  documentedCodes(doc, method, route, status);

describe('OpenAPI document', () => {
  it('matches the committed docs/openapi.json and client types (run `npm run openapi` when this fails)', async () => {
    const stale = await staleArtifacts(await openApiArtifacts(doc));
    assert.deepEqual(
      stale.map((file) => relative(process.cwd(), file)),
      [],
      'stale generated files: run `npm run openapi` and commit them',
    );
  });

  it('has servers, a license and described tags', () => {
    assert.deepEqual(doc.servers, [{ url: '/', description: 'This server' }]);
    assert.equal(doc.info.license?.name, 'MIT');
    const used = new Set(operations().flatMap(([, op]) => op.tags ?? []));
    for (const tag of used) {
      const declared = doc.tags?.find((candidate) => candidate.name === tag);
      assert.ok(declared?.description, `tag ${tag} has a description`);
    }
  });

  it('gives every operation a unique operationId, a summary and an explicit security', () => {
    const ids = new Set<string>();
    for (const [key, op] of operations()) {
      assert.match(op.operationId ?? '', /^[a-z][A-Za-z]+$/, `${key} operationId`);
      assert.ok(!ids.has(op.operationId as string), `${key}: duplicate operationId ${op.operationId}`);
      ids.add(op.operationId as string);
      assert.ok(op.summary, `${key} summary`);
      assert.ok(Array.isArray(op.security), `${key}: security is explicit ([] when public)`);
    }
    const publicOps = operations()
      .filter(([, op]) => op.security?.length === 0)
      .map(([key]) => key)
      .sort();
    assert.deepEqual(publicOps, [
      'GET /',
      'GET /api/auth/verify',
      'GET /api/invitations/lookup',
      'GET /health',
      'GET /health/ready',
      'POST /api/auth/login',
      'POST /api/auth/logout',
      'POST /api/auth/password-reset',
      'POST /api/auth/password-reset/confirm',
      'POST /api/auth/refresh',
      'POST /api/auth/register',
      'POST /api/auth/verify',
      'POST /api/auth/verify/resend',
      'POST /api/invitations/accept',
    ]);
  });

  it('names every request body and answer (component schemas), with examples', () => {
    const named = (schema: Json): boolean =>
      typeof schema.$ref === 'string' ||
      (Array.isArray(schema.anyOf) && schema.anyOf.every((s) => named(s as Json))) ||
      (Array.isArray(schema.allOf) && named(schema.allOf[0] as Json));
    for (const [key, op] of operations()) {
      for (const media of Object.values(op.requestBody?.content ?? {}))
        assert.ok(named(media.schema), `${key} body: ${JSON.stringify(media.schema)}`);
      for (const [status, response] of Object.entries(op.responses)) {
        assert.notEqual(response.description, 'Default Response', `${key} ${status}`);
        for (const media of Object.values(response.content ?? {}))
          assert.ok(named(media.schema), `${key} ${status}: ${JSON.stringify(media.schema)}`);
      }
    }
    const schemas = doc.components.schemas;
    for (const name of ['CoreUser', 'TenantUser', 'Organization', 'TokenResponse', 'Error', 'ErrorCode'])
      assert.ok(schemas[name], name);
    for (const name of ['CoreUser', 'TenantUser', 'Organization', 'TokenResponse', 'RegisterRequest'])
      assert.ok(schemas[name]?.example, `${name} example`);
    const placement = (schemas.Organization?.properties as Record<string, Json>).placement;
    assert.deepEqual(placement?.enum, ['dedicated', 'shared']);
    assert.deepEqual((schemas.ErrorCode as { enum: string[] }).enum, Object.keys(ERRORS));
  });

  it('lists, per /api route and error status, the codes as an enum with one example each', () => {
    for (const [key, op] of operations()) {
      if (!key.split(' ')[1]?.startsWith('/api/')) continue;
      const errors = Object.keys(op.responses).filter((status) => Number(status) >= 400);
      assert.ok(errors.includes('429'), `${key}: 429 (RATE_LIMIT counts every /api request)`);
      for (const status of errors) {
        const media = op.responses[status]?.content?.['application/json'];
        const codes = documented(key.split(' ')[0] as string, key.split(' ')[1] as string, Number(status));
        assert.ok(codes.length > 0, `${key} ${status}: codes`);
        for (const code of codes) {
          assert.equal(
            ERRORS[code as keyof typeof ERRORS].status,
            Number(status) === 404 && code === 'TOKEN_INVALID' ? 401 : Number(status),
            `${key} ${status} ${code}`,
          );
          assert.ok(media?.examples?.[code], `${key} ${status}: example of ${code}`);
        }
      }
    }
  });
});

describe('the error codes the server answers are the documented ones', () => {
  it('for a sample of answers across the planes', async () => {
    const { owner, org, tenantTokens } = await ownerWithOrganization(
      t.app,
      'doc-owner@example.com',
      'Doc Org',
    );
    const member = await verifiedCoreUser(t.app, 'doc-member@example.com');
    const core = owner.tokens.access_token;
    const expect = async (res: Promise<{ statusCode: number }>, status: number) =>
      assert.equal((await res).statusCode, status);
    await expect(
      call(t.app, 'POST', '/api/auth/register', {
        body: { email: 'doc-owner@example.com', password: 'long enough pw' },
      }),
      409,
    );
    await expect(call(t.app, 'POST', '/api/auth/register', { body: { email: 'x' } }), 422);
    await expect(
      call(t.app, 'POST', '/api/auth/login', {
        body: { email: 'doc-owner@example.com', password: 'wrong password' },
      }),
      401,
    );
    await expect(call(t.app, 'GET', '/api/auth/verify?token=nope'), 404);
    await expect(call(t.app, 'GET', '/api/users/me', { tenant: 'Not A Slug' }), 400);
    await expect(call(t.app, 'GET', '/api/users/me', { tenant: 'nosuch-org' }), 404);
    await expect(call(t.app, 'GET', '/api/users/me', { tenant: org.slug, token: core }), 401);
    await expect(call(t.app, 'GET', '/api/users/me'), 401);
    await expect(call(t.app, 'GET', '/api/organizations', { tenant: org.slug, token: core }), 400);
    await expect(call(t.app, 'GET', '/api/users', { token: tenantTokens.access_token }), 400);
    await expect(
      call(t.app, 'GET', '/api/users/999999', { tenant: org.id, token: tenantTokens.access_token }),
      404,
    );
    await expect(
      call(t.app, 'DELETE', `/api/users/1`, { tenant: org.id, token: tenantTokens.access_token }),
      409,
    );
    await expect(
      call(t.app, 'POST', '/api/organizations', { token: member.tokens.access_token, body: { name: 'No' } }),
      403,
    );
    await expect(
      call(t.app, 'POST', '/api/organizations', { token: core, body: { name: 'Doc Org', slug: org.slug } }),
      409,
    );
    await expect(call(t.app, 'GET', '/api/organizations/999999', { token: core }), 404);
    await expect(
      t.app.inject({
        method: 'POST',
        url: '/api/auth/refresh',
        headers: { 'content-type': 'text/plain' },
        payload: 'x',
      }),
      415,
    );
    await expect(
      t.app.inject({
        method: 'POST',
        url: '/api/auth/refresh',
        headers: { 'content-type': 'application/json' },
        payload: '{',
      }),
      400,
    );
    await expect(call(t.app, 'POST', '/api/auth/refresh', { body: { refresh_token: 'nope' } }), 401);

    assert.ok(answered.length >= 18, `recorded ${answered.length} error answers`);
    assert.deepEqual(
      undocumentedAnswers(doc as Parameters<typeof undocumentedAnswers>[0], answered),
      [],
      'error answers the document does not list for their route and status',
    );
  });
});
