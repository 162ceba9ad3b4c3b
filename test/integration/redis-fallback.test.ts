import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app.js';
import { loggerOptions } from '../../src/logger.js';
import { call } from '../helpers/flows.js';
import { redisServerInstalled, startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

const LIMIT = 3;

/** A client address of this run's own (TRUST_PROXY), so counters of other runs never interfere. */
function clientIp(): string {
  return `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
}

describe('rate limiting while Redis goes away and comes back', () => {
  let redis: PrivateRedis;
  let env: TestEnv;
  let app: FastifyInstance;
  const logs: string[] = [];
  const statuses: number[] = [];

  /** The count Redis itself holds for a client (null: no key, or Redis unreachable). */
  async function countInRedis(ip: string): Promise<number | null> {
    const client = new Redis(redis.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const value = await client.get(`tenantry-rl:global:${ip}`);
      return value === null ? null : Number(value);
    } catch {
      return null;
    } finally {
      client.disconnect();
    }
  }

  async function request(ip: string): Promise<number> {
    const res = await call(app, 'GET', '/api/users/me', { headers: { 'x-forwarded-for': ip } });
    statuses.push(res.statusCode);
    return res.statusCode;
  }

  /** LIMIT requests pass to the route (401: no token), the next one is refused. */
  async function expectLimited(ip: string): Promise<void> {
    const seen: number[] = [];
    for (let i = 0; i <= LIMIT; i++) seen.push(await request(ip));
    assert.deepEqual(seen, [...Array<number>(LIMIT).fill(401), 429]);
  }

  /** Polls until `check` holds; RATE_LIMIT counts reach Redis in batches, every 100 ms. */
  async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  /** Polls with throwaway clients until the app counts in Redis again. */
  async function waitUntilCountingInRedis(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const probe = clientIp();
      await request(probe);
      if (await eventually(async () => (await countInRedis(probe)) === 1, 1_000)) return;
    }
    assert.fail(`the app did not count in Redis again within ${timeoutMs} ms`);
  }

  /** The count Redis holds for `ip` once the app's next batch has reached it. */
  async function syncedCount(ip: string, expected: number): Promise<number | null> {
    let last: number | null = null;
    await eventually(async () => (last = await countInRedis(ip)) === expected, 2_000);
    return last;
  }

  before(async () => {
    // .ci/run installs redis-server: without it this is a broken setup, not a reason to skip.
    assert.ok(redisServerInstalled(), 'redis-server is not installed');
    redis = await startPrivateRedis();
    env = await createTestEnv({
      REDIS_URL: redis.url,
      RATE_LIMIT: `${LIMIT}/minute`,
      AUTH_RATE_LIMIT: 'off',
      TRUST_PROXY: 'true',
    });
    app = await buildApp(env.config, {
      logger: {
        ...loggerOptions({ logLevel: 'info' }),
        stream: { write: (line: string) => logs.push(line) },
      },
    });
    await app.ready();
  });

  after(async () => {
    await app?.close();
    await env?.cleanup();
    await redis?.stop();
  });

  it('counts in Redis while it answers', async () => {
    await waitUntilCountingInRedis(10_000);
    const ip = clientIp();
    await expectLimited(ip);
    assert.equal(await syncedCount(ip, LIMIT + 1), LIMIT + 1);
  });

  it('keeps limiting in-process, without a single 5xx, once Redis is stopped, and logs a warning', async () => {
    await redis.stop();
    const ip = clientIp();
    await expectLimited(ip);
    // Still refused on later requests: the in-process window holds.
    assert.equal(await request(ip), 429);
    assert.ok(
      await eventually(
        () =>
          logs.some((line) => /"level":40/.test(line) && /Redis unavailable, counting in-process/.test(line)),
        2_000,
      ),
      'a warning says rate limiting fell back to in-process counting',
    );
    assert.deepEqual(
      statuses.filter((status) => status >= 500),
      [],
    );
  });

  it('shares counters through Redis again once it is back', async () => {
    await redis.start();
    await waitUntilCountingInRedis(20_000);
    const ip = clientIp();
    await expectLimited(ip);
    assert.equal(await syncedCount(ip, LIMIT + 1), LIMIT + 1);
    assert.ok(logs.some((line) => /Redis available again, counters are shared/.test(line)));
    assert.deepEqual(
      statuses.filter((status) => status >= 500),
      [],
    );
  });
});
