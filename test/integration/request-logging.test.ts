import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loggerOptions } from '../../src/logger.js';
import { call, ownerWithOrganization, type Tokens } from '../helpers/flows.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  method?: string;
  url?: string;
  route?: string | null;
  statusCode?: number;
  responseTime?: number;
  tenantId?: number | null;
  userId?: number | null;
  [key: string]: unknown;
}

describe('request logs', () => {
  let env: TestEnv;
  let app: FastifyInstance;
  const raw: string[] = [];
  const lines = () => raw.map((line) => JSON.parse(line) as LogLine);
  const completion = (reqId: string) => {
    const found = lines().filter((line) => line.reqId === reqId && line.msg === 'request completed');
    assert.equal(found.length, 1, `one completion line for ${reqId}`);
    return found[0] as LogLine;
  };

  let owner: { id: number; tokens: Tokens; password: string };
  let tenantTokens: Tokens;
  let org: { id: number };

  before(async () => {
    env = await createTestEnv();
    // The production logger options (redaction included), at info level, into memory.
    app = await buildApp(env.config, {
      logger: { ...loggerOptions({ logLevel: 'info' }), stream: { write: (line: string) => raw.push(line) } },
    });
    await app.ready();
    const created = await ownerWithOrganization(app, 'log-owner@example.com', 'Log Org');
    owner = created.owner;
    tenantTokens = created.tenantTokens;
    org = created.org;
  });
  after(async () => {
    await app?.close();
    await env?.cleanup();
  });

  it('end every tenant request with one JSON line: request id, route, status, time, tenant id, user id', async () => {
    const res = await call(app, 'GET', '/api/users/me', {
      token: tenantTokens.access_token,
      tenant: org.id,
      headers: { 'x-request-id': 'log-test-tenant-1' },
    });
    assert.equal(res.statusCode, 200, res.body);
    const line = completion('log-test-tenant-1');
    assert.equal(line.level, 30);
    assert.equal(line.method, 'GET');
    assert.equal(line.url, '/api/users/me');
    assert.equal(line.route, '/api/users/me');
    assert.equal(line.statusCode, 200);
    assert.equal(typeof line.responseTime, 'number');
    assert.equal(line.tenantId, org.id);
    assert.equal(line.userId, res.json<{ id: number }>().id);
  });

  it('name the core user in the core context, and nobody when unauthenticated', async () => {
    await call(app, 'GET', '/api/users/me', {
      token: owner.tokens.access_token,
      headers: { 'x-request-id': 'log-test-core-1' },
    });
    const core = completion('log-test-core-1');
    assert.equal(core.tenantId, null);
    assert.equal(core.userId, owner.id);

    await call(app, 'GET', '/api/users/me', { headers: { 'x-request-id': 'log-test-anon-1' } });
    const anonymous = completion('log-test-anon-1');
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.userId, null);
  });

  it('never write the query string (it carries email tokens)', async () => {
    await call(app, 'GET', '/api/auth/verify?token=secret-token-in-url-123', {
      headers: { 'x-request-id': 'log-test-verify-1' },
    });
    assert.equal(completion('log-test-verify-1').url, '/api/auth/verify');
    assert.ok(!raw.join('\n').includes('secret-token-in-url-123'));
  });

  it('contain no password, token or Authorization header, even when a caller logs them by mistake', () => {
    app.log.info(
      {
        req: { headers: { authorization: `Bearer ${owner.tokens.access_token}`, cookie: 'session=abc123' } },
        body: { password: owner.password, refresh_token: owner.tokens.refresh_token },
        user: { password: owner.password },
      },
      'careless log call',
    );
    const careless = lines().find((line) => line.msg === 'careless log call');
    assert.ok(careless);
    assert.match(JSON.stringify(careless), /\[redacted\]/);
    const all = raw.join('\n');
    for (const secret of [
      owner.password,
      owner.tokens.access_token,
      owner.tokens.refresh_token,
      tenantTokens.access_token,
      tenantTokens.refresh_token,
      'session=abc123',
    ]) {
      assert.ok(!all.includes(secret), `the logs never contain ${secret.slice(0, 12)}…`);
    }
    assert.doesNotMatch(all, /Bearer /);
  });
});
