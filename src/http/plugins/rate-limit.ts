import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Redis } from 'ioredis';
import type { RateLimit } from '../../config.js';
import { AppError } from '../../errors.js';
import { addRouteHook } from '../route-info.js';
import { BatchedWindows } from './batched-windows.js';
import { type FallbackCounters, FallbackStore } from './rate-limit-store.js';
import { namedPlugin } from './named-plugin.js';
import { ROUTE_INFO } from './route-info.js';

/** Prefix of every rate-limit key in Redis. */
const NAMESPACE = 'tenantry-rl:';

/** Route config granting the stricter authentication limit (per client IP, per route). */
export function authRateLimit(limit: RateLimit | null) {
  return limit
    ? { rateLimit: { max: limit.max, timeWindow: limit.windowMs } }
    : { rateLimit: false as const };
}

export interface RateLimitsOptions {
  /** `RATE_LIMIT`: per client IP over every request of the scope (none when null). */
  limit: RateLimit | null;
  /** Counters of the per-route and per-user limits. */
  counters: FallbackCounters;
  redis: Redis | null;
}

/**
 * Rate limits of the scope they are registered in (the /api scope):
 * - `RATE_LIMIT` per client IP over every request of the scope, counted by one synchronous hook that runs before
 *   tenant resolution, so a request is counted whatever its X-TENANT resolves to (unknown, malformed, or a real
 *   tenant). Counts are kept in this process and shared through Redis in batches (see BatchedWindows): the common
 *   request pays a Map lookup, never a Redis round trip.
 * - stricter per-route limits (`authRateLimit`, in a route's config) through @fastify/rate-limit, counted in Redis
 *   on every request when the app has a client (exact across processes, for the routes that guess passwords), in
 *   memory otherwise; while Redis is down they fall back to this process (see FallbackCounters). Their route
 *   hooks run before the tenant's (see registerTenantContext), so they count unknown tenants too.
 * Both answer `RateLimit-*` headers, and 429 RATE_LIMITED with Retry-After past the limit. Register before the
 * tenant context.
 */
export const rateLimits = namedPlugin<RateLimitsOptions>(
  async (scope, { limit, counters, redis }) => {
    if (limit) registerGlobalLimit(scope, limit, redis);
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
      errorResponseBuilder: (_request, context) => rateLimited(context.ttl),
    });
  },
  // The route-info plugin's route hook must come first: a refused request is still logged under its route.
  { name: 'tenantry-rate-limits', dependencies: [ROUTE_INFO] },
);

function rateLimited(ttlMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  return new AppError('RATE_LIMITED', `Too many requests, retry in ${seconds} s`, {
    headers: { 'retry-after': String(seconds) },
  });
}

function registerGlobalLimit(scope: FastifyInstance, limit: RateLimit, redis: Redis | null): void {
  const windows = new BatchedWindows(redis, `${NAMESPACE}global:`, scope.log);
  scope.addHook('onClose', (_instance, done) => {
    windows.close();
    done();
  });
  const max = String(limit.max);
  const count: onRequestHookHandler = (request, reply, done) => {
    const now = Date.now();
    const { count, resetAt } = windows.hit(request.ip, limit.windowMs, now);
    reply.header('ratelimit-limit', max);
    reply.header('ratelimit-remaining', String(Math.max(0, limit.max - count)));
    reply.header('ratelimit-reset', String(Math.max(1, Math.ceil((resetAt - now) / 1000))));
    done(count > limit.max ? rateLimited(resetAt - now) : undefined);
  };
  // A route hook (not a scope one), so that it runs after the route-info plugin's: a refused request is still
  // logged and measured under its route.
  scope.addHook('onRoute', (route) => addRouteHook(route, count));
}

/**
 * A route hook counting `limit` per authenticated user (the key `user` returns) rather than per IP, on top of
 * the per-IP limits: for costly actions (creating an organization builds a database) that one account must not
 * repeat at the full per-IP rate, from however many addresses. Use it after the guard that sets the user
 * (e.g. as `preHandler`); 429 RATE_LIMITED with Retry-After past the limit. Shares the counters (and their Redis
 * fallback) of the per-route limits.
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
