import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { RedisFallbackNotice } from './rate-limit-store.js';

/** How often this process's hits are added to the shared counters in Redis (and their totals read back). */
export const SYNC_INTERVAL_MS = 100;
const MAX_KEYS = 10_000;

/** INCRBY with the window's expiry set by the first hit; returns the shared total and the milliseconds left. */
const INCRBY_SCRIPT = `
local current = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == tonumber(ARGV[1]) or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {current, ttl}
`;

type RedisWithIncrBy = Redis & {
  tenantryRateLimitIncrBy(key: string, hits: number, windowMs: number): Promise<[number, number]>;
};

interface Window {
  resetAt: number;
  /** Hits counted by this process in this window. */
  local: number;
  /** Of those, the ones already added to Redis. */
  synced: number;
  /** The shared total Redis reported at the last sync (this process's synced hits included). */
  shared: number;
}

/**
 * Fixed-window hit counters, one per key, counted in this process at the cost of a Map lookup and shared through
 * Redis in batches: every SYNC_INTERVAL_MS the hits of each key since the last sync are added to its Redis counter
 * in one pipelined round trip, and the shared total comes back. A key's count is that total plus this process's
 * hits not yet synced. So a request never waits for Redis, and Redis sees a few commands per key per interval
 * instead of one per request; the price is that several processes together may admit, past a limit, what the
 * others admitted in the last interval. Without Redis (or while it fails) the counts are this process's own.
 *
 * @example
 * const windows = new BatchedWindows(redis, 'tenantry-rl:global:', log);
 * const { count, resetAt } = windows.hit('203.0.113.9', 60_000);
 */
export class BatchedWindows {
  private readonly windows = new Map<string, Window>();
  private readonly redis: RedisWithIncrBy | null;
  private readonly timer: NodeJS.Timeout | null;
  private syncing: Promise<void> | null = null;
  private readonly notice: RedisFallbackNotice;

  constructor(
    redis: Redis | null,
    private readonly prefix: string,
    log: FastifyBaseLogger,
  ) {
    this.notice = new RedisFallbackNotice(log);
    if (redis && !('tenantryRateLimitIncrBy' in redis)) {
      redis.defineCommand('tenantryRateLimitIncrBy', { numberOfKeys: 1, lua: INCRBY_SCRIPT });
    }
    this.redis = redis as RedisWithIncrBy | null;
    this.timer = redis ? setInterval(() => void this.sync(), SYNC_INTERVAL_MS) : null;
    this.timer?.unref();
  }

  /** Counts one hit on `key` and returns the window's count (this hit included) and when it resets. */
  hit(key: string, windowMs: number, now = Date.now()): { count: number; resetAt: number } {
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { resetAt: now + windowMs, local: 0, synced: 0, shared: 0 };
      // Re-inserted, so the Map stays in order of window start and the oldest is dropped first.
      this.windows.delete(key);
      this.windows.set(key, window);
      if (this.windows.size > MAX_KEYS) {
        const oldest = this.windows.keys().next();
        if (!oldest.done) this.windows.delete(oldest.value);
      }
    }
    window.local += 1;
    return { count: window.shared + window.local - window.synced, resetAt: window.resetAt };
  }

  /** Adds every key's unsynced hits to Redis and reads the shared totals back; never rejects. */
  sync(): Promise<void> {
    this.syncing ??= this.syncOnce().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const redis = this.redis;
    if (!redis) return;
    const now = Date.now();
    const batch = [...this.windows].filter(([, w]) => w.local > w.synced && w.resetAt > now);
    if (batch.length === 0) return;
    if (redis.status !== 'ready') return this.notice.degraded(`Redis is ${redis.status}`);
    const pipeline = redis.pipeline();
    const sent = batch.map(([key, w]) => {
      const hits = w.local - w.synced;
      const windowMs = Math.max(1, w.resetAt - now);
      void (pipeline as unknown as RedisWithIncrBy).tenantryRateLimitIncrBy(
        this.prefix + key,
        hits,
        windowMs,
      );
      return { key, window: w, hits };
    });
    try {
      const results = (await pipeline.exec()) ?? [];
      sent.forEach(({ window, hits }, i) => {
        const [error, reply] = results[i] ?? [new Error('no reply'), null];
        if (error || !Array.isArray(reply)) return;
        const [total, ttl] = reply as [number, number];
        window.synced += hits;
        window.shared = total;
        // Redis's window wins, so every process resets together.
        window.resetAt = Date.now() + Number(ttl);
      });
      this.notice.recovered();
    } catch (error) {
      this.notice.degraded(error instanceof Error ? error.message : String(error));
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
