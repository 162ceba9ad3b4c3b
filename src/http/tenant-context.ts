import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { tenantHeaderValue } from '../tenancy/tenant-header.js';

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
  api.addHook('onRoute', (route) => {
    const hooks = route.onRequest;
    route.onRequest = [...(Array.isArray(hooks) ? hooks : hooks ? [hooks] : []), bindTenant];
  });
}

async function bindTenant(request: FastifyRequest): Promise<void> {
  const context = request.routeOptions.config.context;
  if (!context) return; // not found routes
  const header =
    context === 'core' ? request.headers['x-tenant'] : tenantHeaderValue(request.headers['x-tenant']);
  if (context === 'core') {
    if (header !== undefined && header !== '') throw new AppError('TENANT_NOT_ALLOWED');
    return;
  }
  if (header === undefined) {
    if (context === 'tenant') throw new AppError('TENANT_REQUIRED');
    return;
  }
  request.tenant = await request.server.services.tenants.enter(header as string);
}
