import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Probes hit every few seconds; logged at debug level when they succeed so they do not drown real traffic. */
const PROBES = new Set(['/health', '/health/ready', '/metrics']);

/** Who made the request, once the guards ran: the tenant user in a tenant context, else the core user. */
function userId(request: FastifyRequest): number | null {
  // The tenancy decorators exist only in the /api scope; elsewhere these properties are undefined.
  return request.tenantUser?.id ?? request.coreUser?.id ?? null;
}

/**
 * One JSON line per finished request, replacing Fastify's two default lines: request id (`reqId`, bound by
 * Fastify's child logger), method, path (never the query string: it may carry an email or reset token), route
 * pattern, status, duration, client IP (the proxy's client with TRUST_PROXY), tenant id and user id.
 * Requires Fastify's `disableRequestLogging: true`.
 */
export function registerRequestLogging(app: FastifyInstance): void {
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? null;
    const line = {
      method: request.method,
      url: request.url.split('?', 1)[0],
      route,
      statusCode: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime * 10) / 10,
      ip: request.ip,
      tenantId: request.tenant?.id ?? null,
      userId: userId(request),
    };
    if (route !== null && PROBES.has(route) && reply.statusCode < 400) {
      request.log.debug(line, 'request completed');
    } else {
      request.log.info(line, 'request completed');
    }
  });
}
