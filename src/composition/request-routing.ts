import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { OrganizationDomainsRepository } from '../modules/domains/organization-domains.repository.js';
import { movedAway } from '../tenancy/connections/moved-away.js';
import { InvalidationBus } from '../tenancy/routing/invalidation-bus.js';
import { TenantGateway } from '../tenancy/routing/tenant-gateway.js';
import { TenantResolver } from '../tenancy/routing/tenant-resolver.js';
import type { MoveRouting, TenantPlumbing } from './tenancy.js';

/** The server's routing: requests reach tenants through the gateway, which a move invalidates and closes. */
export interface GatewayRouting extends MoveRouting {
  gateway: TenantGateway;
}

/** Request routing of a process that serves requests: X-TENANT or a custom domain, resolved through a cache. */
export function gatewayRouting(options: {
  config: Config;
  redis: Redis | null;
  log: FastifyBaseLogger;
  domains: OrganizationDomainsRepository;
}): (plumbing: TenantPlumbing) => GatewayRouting {
  const { config, redis, log, domains } = options;
  return ({ organizations, connections, store }) => {
    const resolver = new TenantResolver(organizations, {
      ttlMs: config.tenantCacheTtlMs,
      server: store.server,
      domains,
    });
    const gateway = new TenantGateway(resolver, connections, { redis, log, sharedNames: store.sharedNames });
    return {
      gateway,
      invalidate: (orgId, slug) => gateway.invalidate(orgId, slug),
      beforeDrop: (orgId, placement) => gateway.close(orgId, placement, movedAway),
    };
  };
}

/**
 * The CLI's routing: it serves no requests, so a move only tells running servers (through Redis, when
 * configured; otherwise their short cache TTL catches up).
 */
export function busRouting(redis: Redis | null, log: FastifyBaseLogger): () => MoveRouting {
  return () => {
    const bus = new InvalidationBus(() => undefined, redis, log);
    return { invalidate: (orgId, slug) => bus.invalidate(orgId, slug) };
  };
}
