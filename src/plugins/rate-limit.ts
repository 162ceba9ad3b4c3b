import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { RateLimit } from '../config.js';
import { AppError } from '../errors.js';
import { BatchedWindows } from './batched-windows.js';
import { FallbackCounters, FallbackStore } from './rate-limit-store.js';

/** Prefix of every rate-limit key in Redis. */
const NAMESPACE = 'tenantry-rl:';

/** Route config granting the stricter authentication limit (per client IP, per route). */
export function authRateLimit(limit: RateLimit | null) {
  return limit
    ? { rateLimit: { max: limit.max, timeWindow: limit.windowMs } }
    : { rateLimit: false as const };
}

/**
 * Rate limits of the scope they are registered in (the /api scope):
 * - `RATE_LIMIT` per client IP over every request of the scope, counted by one synchronous hook that runs before
 *   tenant resolution, so a request is counted whatever its X-TENANT resolves to (unknown, malformed, or a real
 *   tenant). Counts are kept in this process and shared through Redis in batches (see BatchedWindows): the common
 *   request pays a Map lookup, never a Redis round trip.
 * - stricter per-route limits (`authRateLimit`, in a route's config) through @fastify/rate-limit, counted in Redis
 *   on every request when a client is given (exact across processes, for the routes that guess passwords), in
 *   memory otherwise; while Redis is down they fall back to this process (see FallbackCounters).
 * Both answer `RateLimit-*` headers, and 429 RATE_LIMITED with Retry-After past the limit. Register before the
 * tenant context hook.
 */
export async function registerRateLimit(
  scope: FastifyInstance,
  limit: RateLimit | null,
  redis: Redis | null,
): Promise<void> {
  if (limit) registerGlobalLimit(scope, limit, redis);
  const counters = new FallbackCounters(redis, scope.log);
  await scope.register(rateLimit, {
    global: false,
    store: class extends FallbackStore {
      constructor() {
        super(counters, NAMESPACE);
      }
    },
    // The store never fails; this only keeps a future bug in it from failing requests.
    skipOnError: true,
    enableDraftSpec: true,
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, context) => rateLimited(Math.ceil(context.ttl / 1000)),
  });
}

function rateLimited(retryAfterSeconds: number): AppError {
  return new AppError('RATE_LIMITED', `Too many requests, retry in ${retryAfterSeconds} s`, {
    headers: { 'retry-after': String(retryAfterSeconds) },
  });
}

function registerGlobalLimit(scope: FastifyInstance, limit: RateLimit, redis: Redis | null): void {
  const windows = new BatchedWindows(redis, `${NAMESPACE}global:`, scope.log);
  scope.addHook('onClose', (_instance, done) => {
    windows.close();
    done();
  });
  const max = String(limit.max);
  scope.addHook('onRequest', (request, reply, done) => {
    const now = Date.now();
    const { count, resetAt } = windows.hit(request.ip, limit.windowMs, now);
    const resetSeconds = Math.max(1, Math.ceil((resetAt - now) / 1000));
    reply.header('ratelimit-limit', max);
    reply.header('ratelimit-remaining', String(Math.max(0, limit.max - count)));
    reply.header('ratelimit-reset', String(resetSeconds));
    done(count > limit.max ? rateLimited(resetSeconds) : undefined);
  });
}
