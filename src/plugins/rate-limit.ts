import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { RateLimit } from '../config.js';
import { AppError } from '../errors.js';
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
 * `RATE_LIMIT` per client IP across every route of the scope it is registered in (the /api scope), with
 * `RateLimit-*` headers; 429 RATE_LIMITED with Retry-After past it. Counters live in Redis when a client is
 * given (shared by every process and machine), in memory otherwise. While Redis is down the counters fall back
 * to this process (see FallbackCounters): rate limiting must neither turn into an outage nor switch itself off.
 */
export async function registerRateLimit(
  scope: FastifyInstance,
  limit: RateLimit | null,
  redis: Redis | null,
): Promise<void> {
  const counters = new FallbackCounters(redis, scope.log);
  await scope.register(rateLimit, {
    global: limit !== null,
    max: limit?.max ?? 1,
    timeWindow: limit?.windowMs ?? 60_000,
    store: class extends FallbackStore {
      constructor() {
        super(counters, NAMESPACE);
      }
    },
    // The store never fails; this only keeps a future bug in it from failing requests.
    skipOnError: true,
    enableDraftSpec: true,
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', `Too many requests, retry in ${Math.ceil(context.ttl / 1000)} s`, {
        headers: { 'retry-after': String(Math.ceil(context.ttl / 1000)) },
      }),
  });
}
