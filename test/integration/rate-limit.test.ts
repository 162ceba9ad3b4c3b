import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { BatchedWindows } from '../../src/http/plugins/batched-windows.js';
import { createTestApp } from '../helpers/test-app.js';
import { call } from '../helpers/flows.js';

const silentLog = {
  warn: () => undefined,
  info: () => undefined,
} as unknown as ConstructorParameters<typeof BatchedWindows>[2];

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

  it('counts requests whose X-TENANT is unknown or malformed, and tenant logins to unknown tenants', async () => {
    const t = await createTestApp({ AUTH_RATE_LIMIT: 'off', RATE_LIMIT: '5/minute' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        statuses.push(
          (await call(t.app, 'GET', '/api/users/me', { headers: { 'x-tenant': `nosuch${i}` } })).statusCode,
        );
      }
      statuses.push(
        (await call(t.app, 'GET', '/api/users/me', { headers: { 'x-tenant': 'Bad Value!' } })).statusCode,
      );
      statuses.push(
        (
          await call(t.app, 'POST', '/api/auth/login', {
            body: login,
            headers: { 'x-tenant': 'nosuch-login' },
          })
        ).statusCode,
      );
      const sixth = await call(t.app, 'GET', '/api/users/me', { headers: { 'x-tenant': 'nosuch9' } });
      assert.deepEqual(statuses, [404, 404, 404, 400, 404]);
      assert.equal(sixth.statusCode, 429);
      assert.equal(sixth.json<{ code: string }>().code, 'RATE_LIMITED');
      assert.ok(Number(sixth.headers['retry-after']) > 0);
      assert.equal(sixth.headers['ratelimit-remaining'], '0');
    } finally {
      await t.close();
    }
  });

  it('global counters are shared through Redis in batches: each process adds its hits and reads the total', async () => {
    const redisA = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
    const redisB = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
    await Promise.all([redisA.connect(), redisB.connect()]);
    const prefix = `tenantry-rl-test:${randomInt(1e9)}:`;
    const a = new BatchedWindows(redisA, prefix, silentLog);
    const b = new BatchedWindows(redisB, prefix, silentLog);
    try {
      for (let i = 1; i <= 3; i++) assert.equal(a.hit('client', 60_000).count, i);
      await a.sync();
      assert.equal(b.hit('client', 60_000).count, 1, 'b has not synced yet: its own hit');
      await b.sync();
      assert.equal(b.hit('client', 60_000).count, 5, "a's three, b's synced one and this one");
      assert.equal(Number(await redisA.get(`${prefix}client`)), 4);
      assert.ok((await redisA.pttl(`${prefix}client`)) > 0, 'the shared window expires');
      assert.equal(a.hit('client', 60_000).count, 4, "a has not heard of b's hits yet");
      await a.sync();
      assert.equal(a.hit('client', 60_000).count, 6, "a's sync brought b's synced hit back with the total");
    } finally {
      a.close();
      b.close();
      await redisA.del(`${prefix}client`);
      redisA.disconnect();
      redisB.disconnect();
    }
  });

  it('global counters keep counting in-process when Redis is unreachable', async () => {
    // A closed port on 127.0.0.1: nothing listens there.
    const redis = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    await redis.connect().catch(() => undefined);
    const windows = new BatchedWindows(redis, 'tenantry-rl-test:', silentLog);
    try {
      for (let i = 1; i <= 3; i++) assert.equal(windows.hit('client', 60_000).count, i);
      await windows.sync();
      assert.equal(windows.hit('client', 60_000).count, 4);
      assert.equal(
        windows.hit('client', 60_000, Date.now() + 61_000).count,
        1,
        'a new window starts from zero',
      );
    } finally {
      windows.close();
      redis.disconnect();
    }
  });
});
