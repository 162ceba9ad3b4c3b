import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';

/** A counter as @fastify/rate-limit expects it: hits in the current window and milliseconds until it resets. */
export interface WindowCount {
  current: number;
  ttl: number;
}

type StoreCallback = (error: Error | null, result?: WindowCount) => void;

/** After a failed Redis call, count in-process for this long before trying Redis again (unless it reconnects). */
const REDIS_PAUSE_MS = 5_000;
const LOCAL_MAX_KEYS = 10_000;

/** Fixed window: the first hit sets the expiry; a key left without one (never expected) gets it back. */
const INCR_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}
`;

type RedisWithIncr = Redis & {
  tenantryRateLimitIncr(key: string, windowMs: number): Promise<[number, number]>;
};

/** Fixed-window counters in this process, bounded: past `maxKeys` the least recently used key is dropped. */
export class LocalWindows {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly maxKeys = LOCAL_MAX_KEYS) {}

  incr(key: string, windowMs: number, now = Date.now()): WindowCount {
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) window = { count: 0, resetAt: now + windowMs };
    window.count += 1;
    // Re-inserting keeps the Map in least-recently-used-first order.
    this.windows.delete(key);
    this.windows.set(key, window);
    if (this.windows.size > this.maxKeys) {
      const oldest = this.windows.keys().next();
      if (!oldest.done) this.windows.delete(oldest.value);
    }
    return { current: window.count, ttl: window.resetAt - now };
  }
}

/** One warning when rate limiting falls back to in-process counting, one info line when Redis counts again. */
export class RedisFallbackNotice {
  private isDegraded = false;

  constructor(private readonly log: FastifyBaseLogger) {}

  degraded(reason: string): void {
    if (this.isDegraded) return;
    this.isDegraded = true;
    this.log.warn(
      { reason },
      'rate limiting: Redis unavailable, counting in-process until it is back (limits are per process meanwhile)',
    );
  }

  recovered(): void {
    if (!this.isDegraded) return;
    this.isDegraded = false;
    this.log.info('rate limiting: Redis available again, counters are shared');
  }
}

/**
 * Counters in Redis while it answers, in this process while it does not. Redis being down degrades rate
 * limiting to per-process counting (never to no limiting, never to an error), with one warning when that starts
 * and one info line when Redis counts again. Counts made in-process are not carried over to Redis.
 */
export class FallbackCounters {
  private readonly redis: RedisWithIncr | null;
  private readonly local = new LocalWindows();
  private pausedUntil = 0;
  private readonly notice: RedisFallbackNotice;

  constructor(redis: Redis | null, log: FastifyBaseLogger) {
    this.notice = new RedisFallbackNotice(log);
    if (redis && !('tenantryRateLimitIncr' in redis)) {
      redis.defineCommand('tenantryRateLimitIncr', { numberOfKeys: 1, lua: INCR_SCRIPT });
    }
    this.redis = redis as RedisWithIncr | null;
    // A reconnect ends the pause at once rather than after it expires.
    redis?.on('ready', () => {
      this.pausedUntil = 0;
    });
  }

  /** Counts one hit on `key` and reports the window; never rejects. */
  async incr(key: string, windowMs: number): Promise<WindowCount> {
    const redis = this.redis;
    if (!redis) return this.local.incr(key, windowMs);
    // Not connected: do not even try, the client would only fail (it keeps no offline queue).
    if (redis.status !== 'ready' || Date.now() < this.pausedUntil) {
      this.notice.degraded(`Redis is ${redis.status === 'ready' ? 'failing' : redis.status}`);
      return this.local.incr(key, windowMs);
    }
    try {
      const [current, ttl] = await redis.tenantryRateLimitIncr(key, windowMs);
      this.notice.recovered();
      return { current, ttl };
    } catch (error) {
      this.pausedUntil = Date.now() + REDIS_PAUSE_MS;
      this.notice.degraded(error instanceof Error ? error.message : String(error));
      return this.local.incr(key, windowMs);
    }
  }
}

/** What @fastify/rate-limit really passes to `child()` (its typings say RouteOptions): the merged options. */
interface ChildOptions {
  routeInfo?: { method?: string | string[]; url?: string };
}

/**
 * A @fastify/rate-limit store over FallbackCounters. The plugin builds one per registration and a child per
 * route with its own limit; children prefix their keys with the route, as the plugin's own Redis store does.
 * `continueExceeding`, `exponentialBackoff` and `ban` are not supported (this server uses none of them).
 */
export class FallbackStore {
  constructor(
    private readonly counters: FallbackCounters,
    private readonly prefix: string,
  ) {}

  incr(key: string, callback: StoreCallback, timeWindow: number): void {
    void this.counters.incr(this.prefix + key, timeWindow).then((count) => callback(null, count));
  }

  child(options: object): FallbackStore {
    const { routeInfo } = options as ChildOptions;
    const method = routeInfo?.method;
    const route = `${Array.isArray(method) ? method.join(',') : (method ?? '')}${routeInfo?.url ?? ''}`;
    return new FallbackStore(this.counters, `${this.prefix}${route}-`);
  }
}
