import type { Kysely } from 'kysely';
import type { TenantDatabase, TenantPrincipal } from '../../db/tenant-schema.js';
import type { TenantPlacement } from '../placement/placement.js';
import type { ResolvedTenant } from './tenant-resolver.js';

/**
 * The tenant a request is bound to: resolved from X-TENANT before any handler runs, with a handle on that
 * tenant's tables only (its database, or its schema of a shared database). It lives on the request object,
 * never in module state.
 */
export interface TenantContext extends ResolvedTenant {
  readonly placement: TenantPlacement;
  readonly db: Kysely<TenantDatabase>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Null in the core context. */
    tenant: TenantContext | null;
    /** The authenticated tenant user, set by the tenant guard. */
    tenantUser: TenantPrincipal | null;
  }
}
