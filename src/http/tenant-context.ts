import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError } from '../errors.js';
import {
  hostRouting,
  hostTarget,
  type HostRouting,
  type HostTarget,
} from '../tenancy/routing/host-target.js';
import { tenantHeaderValue } from '../tenancy/routing/tenant-header.js';
import { addRouteHook } from './route-info.js';

/**
 * Fixes the plane of every /api request before any other hook or handler runs, except the rate limit:
 * - a core-only route refuses any non-empty X-TENANT (400 TENANT_NOT_ALLOWED) without resolving it, and ignores
 *   the host;
 * - otherwise X-TENANT and the host (`<slug>.<TENANT_BASE_DOMAIN>` or a custom domain; `X-Forwarded-Host` only
 *   from a proxy `TRUST_PROXY` trusts, which Fastify's `request.hostname` applies) are resolved, and the request
 *   is bound to the tenant they select (400 TENANT_CONFLICT when they name two; see selectTenant);
 * - a tenant-only route that selects none: 400 TENANT_REQUIRED.
 *
 * The hook is appended to each route's own onRequest hooks, after the rate limiter's (register the rate limit
 * first): every request is counted whatever its X-TENANT resolves to, so unknown or malformed values
 * (`nosuch1`, `nosuch2`, … each a core-database lookup) cannot bypass the limit.
 */
export function registerTenantContext(api: FastifyInstance): void {
  api.decorateRequest('coreUser', null);
  api.decorateRequest('tenant', null);
  api.decorateRequest('tenantUser', null);
  const routing = hostRouting(api.config);
  const bind = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) =>
    bindTenant(routing, request, reply, done);
  api.addHook('onRoute', (route) => addRouteHook(route, bind));
}

/**
 * A callback hook, not an async one: a cached resolution (the common case) binds the tenant without a promise or
 * a tick; only a lookup waits.
 */
function bindTenant(
  routing: HostRouting,
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  try {
    const context = request.routeInfo?.context;
    if (!context) return done(); // not found routes
    if (context === 'core') {
      const header = request.headers['x-tenant'];
      if (header !== undefined && header !== '') throw new AppError('TENANT_NOT_ALLOWED');
      return done();
    }
    const header = tenantHeaderValue(request.headers['x-tenant']);
    const host: HostTarget | null = hostTarget(request.hostname, routing);
    if (header === undefined && host === null) return none(context, done);
    const tenants = request.server.services.tenants;
    const cached = tenants.selectCached(header, host);
    if (cached !== undefined) return bound(request, context, cached, done);
    tenants.select(header, host).then((tenant) => bound(request, context, tenant, done), done);
  } catch (error) {
    done(error as Error);
  }
}

function bound(
  request: FastifyRequest,
  context: 'tenant' | 'both',
  tenant: FastifyRequest['tenant'],
  done: HookHandlerDoneFunction,
): void {
  if (tenant === null) return none(context, done);
  request.tenant = tenant;
  done();
}

/** No tenant selected: the core plane, which a tenant-only route refuses. */
function none(context: 'tenant' | 'both', done: HookHandlerDoneFunction): void {
  if (context === 'tenant') return done(new AppError('TENANT_REQUIRED'));
  done();
}
