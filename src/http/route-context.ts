import type { CoreUser } from '../db/core-schema.js';

/**
 * Which plane a route runs in. `core`: no X-TENANT allowed. `tenant`: X-TENANT required. `both`: the same path
 * serves either plane, chosen by the header (the contract keeps the old service's "one path, two contexts").
 */
export type RouteContext = 'core' | 'tenant' | 'both';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on every /api route; the tenant-context hook enforces it before anything but the rate limit runs. */
    context?: RouteContext;
  }
  interface FastifyRequest {
    /** The authenticated core user, set by the core guard. */
    coreUser: CoreUser | null;
  }
}
