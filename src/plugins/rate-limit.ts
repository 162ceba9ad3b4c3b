import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RateLimit } from '../config.js';
import { AppError } from '../errors.js';
import { type FallbackCounters, FallbackStore } from './rate-limit-store.js';

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
 * `RateLimit-*` headers; 429 RATE_LIMITED with Retry-After past it. Counters live in Redis when the app has a
 * client (shared by every process and machine), in memory otherwise. While Redis is down the counters fall back
 * to this process (see FallbackCounters): rate limiting must neither turn into an outage nor switch itself off.
 */
export async function registerRateLimit(
  scope: FastifyInstance,
  limit: RateLimit | null,
  counters: FallbackCounters,
): Promise<void> {
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
    errorResponseBuilder: (_request, context) => rateLimited(context.ttl),
  });
}

function rateLimited(ttlMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  return new AppError('RATE_LIMITED', `Too many requests, retry in ${seconds} s`, {
    headers: { 'retry-after': String(seconds) },
  });
}

/**
 * A route hook counting `limit` per authenticated user (the key `user` returns) rather than per IP, on top of
 * the per-IP limits: for costly actions (creating an organization builds a database) that one account must not
 * repeat at the full per-IP rate, from however many addresses. Use it after the guard that sets the user
 * (e.g. as `preHandler`); 429 RATE_LIMITED with Retry-After past the limit. Shares the counters (and their Redis
 * fallback) of registerRateLimit.
 *
 * @example
 * app.post('/organizations', { preHandler: perUserRateLimit('org-create', limit, (r) => r.coreUser?.id) }, …);
 */
export function perUserRateLimit(
  name: string,
  limit: RateLimit | null,
  user: (request: FastifyRequest) => number | undefined,
) {
  return async (request: FastifyRequest): Promise<void> => {
    const id = user(request);
    if (!limit || id === undefined) return;
    const key = `${NAMESPACE}user:${name}:${id}`;
    const { current, ttl } = await request.server.services.rateCounters.incr(key, limit.windowMs);
    if (current > limit.max) throw rateLimited(ttl);
  };
}
