import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { createTestApp } from '../helpers/test-app.js';
import { call } from '../helpers/flows.js';

const login = { email: 'nobody@example.com', password: 'whatever password' };

describe('rate limits', () => {
  it('the 6th login within a minute answers 429 RATE_LIMITED with Retry-After (AUTH_RATE_LIMIT=5/minute)', async () => {
    const t = await createTestApp({ AUTH_RATE_LIMIT: '5/minute', RATE_LIMIT: '100/minute' });
    try {
      for (let i = 1; i <= 5; i++) {
        const res = await call(t.app, 'POST', '/api/auth/login', { body: login });
        assert.equal(res.statusCode, 401, `attempt ${i}`);
        assert.equal(res.headers['ratelimit-limit'], '5');
        assert.equal(res.headers['ratelimit-remaining'], String(5 - i));
      }
      const sixth = await call(t.app, 'POST', '/api/auth/login', { body: login });
      assert.equal(sixth.statusCode, 429);
      assert.equal(sixth.json<{ code: string }>().code, 'RATE_LIMITED');
      assert.ok(Number(sixth.headers['retry-after']) > 0);
      // Counted per route: registration still has its own budget.
      const register = await call(t.app, 'POST', '/api/auth/register', {
        body: { email: 'x@example.com', password: 'long enough' },
      });
      assert.equal(register.statusCode, 201);
    } finally {
      await t.close();
    }
  });

  it('RATE_LIMIT counts every other /api route per client; operations endpoints are not limited', async () => {
    const t = await createTestApp({ AUTH_RATE_LIMIT: 'off', RATE_LIMIT: '3/minute' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await call(t.app, 'GET', '/api/users/me')).statusCode);
      assert.deepEqual(statuses, [401, 401, 401, 429]);
      assert.equal((await call(t.app, 'GET', '/health')).statusCode, 200);
    } finally {
      await t.close();
    }
  });

  it('"off" disables the limits', async () => {
    const t = await createTestApp({ AUTH_RATE_LIMIT: 'off', RATE_LIMIT: 'off' });
    try {
      for (let i = 0; i < 8; i++)
        assert.equal((await call(t.app, 'POST', '/api/auth/login', { body: login })).statusCode, 401);
    } finally {
      await t.close();
    }
  });

  it('with REDIS_URL two app instances share the counters', async () => {
    const env = { AUTH_RATE_LIMIT: '5/minute', REDIS_URL: 'redis://127.0.0.1:6379', TRUST_PROXY: 'true' };
    const a = await createTestApp(env);
    const b = await createTestApp(env);
    // A client address of our own, so no earlier run's counters in the shared Redis interfere.
    const headers = { 'x-forwarded-for': `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}` };
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const app = i % 2 === 0 ? a.app : b.app;
        statuses.push((await call(app, 'POST', '/api/auth/login', { body: login, headers })).statusCode);
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
