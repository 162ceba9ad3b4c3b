import type { FastifyRequest } from 'fastify';
import type { AuditSource } from './audit-event.js';

/**
 * What the events of a request carry: its id, the client's address (`request.ip`, which honours TRUST_PROXY) and
 * the user its guard authenticated, if any. Call it after the guard ran (in the handler).
 *
 * @example
 * await tenantUsers.remove(tenant, user, id, auditSource(request));
 */
export function auditSource(request: FastifyRequest): AuditSource {
  const actor = request.tenantUser
    ? { plane: 'tenant' as const, user_id: request.tenantUser.id }
    : request.coreUser
      ? { plane: 'core' as const, user_id: request.coreUser.id }
      : null;
  return { actor, requestId: request.id, ip: request.ip || null };
}
