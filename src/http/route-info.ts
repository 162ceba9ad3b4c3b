import type { onRequestHookHandler, RouteOptions } from 'fastify';
import type { RouteContext } from './route-context.js';

/** What hooks need to know of the route a request matched, fixed when the route is registered. */
export interface RouteInfo {
  /** The route pattern, e.g. `/api/users/:id`. */
  readonly url: string;
  readonly context: RouteContext | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The matched route (null for requests no route matched), set before any other hook (plugins/route-info.ts). */
    routeInfo: RouteInfo | null;
  }
}

/**
 * Adds an onRequest hook to one route (from an `onRoute` hook): after the route's own hooks, or before them.
 * Route hooks run after the instance's, in this order; a hook added last runs last.
 */
export function addRouteHook(
  route: RouteOptions,
  hook: onRequestHookHandler,
  where: 'first' | 'last' = 'last',
): void {
  const hooks = route.onRequest;
  const existing = Array.isArray(hooks) ? hooks : hooks ? [hooks] : [];
  route.onRequest = where === 'first' ? [hook, ...existing] : [...existing, hook];
}
