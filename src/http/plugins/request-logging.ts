import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { namedPlugin } from './named-plugin.js';
import { ROUTE_INFO } from './route-info.js';

/** Probes hit every few seconds; logged at debug level when they succeed so they do not drown real traffic. */
const PROBES = new Set(['/health', '/health/ready', '/metrics']);

/** Who made the request, once the guards ran: the tenant user in a tenant context, else the core user. */
function userId(request: FastifyRequest): number | null {
  // The tenancy decorators exist only in the /api scope; elsewhere these properties are undefined.
  return request.tenantUser?.id ?? request.coreUser?.id ?? null;
}

/**
 * One JSON line per finished request, replacing Fastify's two default lines: request id (`reqId`), method, path
 * (never the query string: it may carry an email or reset token), route pattern, status, duration, client IP (the
 * proxy's client with TRUST_PROXY), tenant id and user id. Requires Fastify's `disableRequestLogging: true`.
 *
 * The line is written by a child of the app's logger without the redaction pass: it holds only the scalar fields
 * above, none of them a credential, and redaction (pino's wildcard paths) cost more than the rest of the line put
 * together, on every request. Every other log call still goes through redaction.
 */
export const requestLogging = namedPlugin(
  async (app) => {
    const lineLog = app.log.child({}, { redact: [] });
    app.addHook(
      'onResponse',
      (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
        const route = request.routeInfo?.url ?? null;
        const probe = route !== null && PROBES.has(route) && reply.statusCode < 400;
        const query = request.url.indexOf('?');
        lineLog[probe ? 'debug' : 'info'](
          {
            reqId: request.id,
            method: request.method,
            url: query === -1 ? request.url : request.url.slice(0, query),
            route,
            statusCode: reply.statusCode,
            responseTime: Math.round(reply.elapsedTime * 10) / 10,
            ip: request.ip,
            tenantId: request.tenant?.id ?? null,
            userId: userId(request),
          },
          'request completed',
        );
        done();
      },
    );
  },
  { name: 'tenantry-request-logging', dependencies: [ROUTE_INFO] },
);
