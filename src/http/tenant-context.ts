import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError } from '../errors.js';
import { tenantHeaderValue } from '../tenancy/routing/tenant-header.js';
import { addRouteHook } from './route-info.js';

/**
 * Fixes the plane of every /api request before any other hook or handler runs, except the rate limit:
 * - a core-only route refuses any non-empty X-TENANT (400 TENANT_NOT_ALLOWED) without resolving it;
 * - a tenant-only route needs one (400 TENANT_REQUIRED);
 * - otherwise the header is resolved (400/404/503/403) and the request is bound to that tenant.
 *
 * The hook is appended to each route's own onRequest hooks, after the rate limiter's (register the rate limit
 * first): every request is counted whatever its X-TENANT resolves to, so unknown or malformed values
 * (`nosuch1`, `nosuch2`, … each a core-database lookup) cannot bypass the limit.
 */
export function registerTenantContext(api: FastifyInstance): void {
  api.decorateRequest('coreUser', null);
  api.decorateRequest('tenant', null);
  api.decorateRequest('tenantUser', null);
  api.addHook('onRoute', (route) => addRouteHook(route, bindTenant));
}

/**
 * A callback hook, not an async one: a cached resolution (the common case) binds the tenant without a promise or
 * a tick; only a lookup waits.
 */
function bindTenant(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  try {
    const header = tenantHeaderFor(request);
    if (header === undefined) return done();
    const tenants = request.server.services.tenants;
    const cached = tenants.enterCached(header);
    if (cached) {
      request.tenant = cached;
      return done();
    }
    tenants.enter(header).then((tenant) => {
      request.tenant = tenant;
      done();
    }, done);
  } catch (error) {
    done(error as Error);
  }
}

/** The X-TENANT value to resolve for this route, undefined when the request runs in the core plane. */
function tenantHeaderFor(request: FastifyRequest): string | undefined {
  const context = request.routeInfo?.context;
  if (!context) return undefined; // not found routes
  if (context === 'core') {
    const header = request.headers['x-tenant'];
    if (header !== undefined && header !== '') throw new AppError('TENANT_NOT_ALLOWED');
    return undefined;
  }
  const header = tenantHeaderValue(request.headers['x-tenant']);
  if (header === undefined && context === 'tenant') throw new AppError('TENANT_REQUIRED');
  return header;
}
