import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../errors.js';
import { authenticated as signedIn, requireUser } from '../../http/auth-guards.js';
import { PageQuery } from '../shared/pagination.js';
import { BEARER_SECURITY, errorResponses } from '../../http/schemas.js';
import { AUDIT_ACTIONS } from './audit-actions.js';

const AuditEvent = Type.Object(
  {
    id: Type.Integer(),
    at: Type.String({ format: 'date-time' }),
    action: Type.String({ description: 'One of the actions listed for the `action` filter' }),
    actor: Type.Union(
      [
        Type.Object({
          plane: Type.Union([Type.Literal('core'), Type.Literal('tenant')]),
          user_id: Type.Integer(),
        }),
        Type.Null(),
      ],
      { description: 'Who did it (a core or a tenant user); null for an operator or the system' },
    ),
    target: Type.Union(
      [
        Type.Object({
          type: Type.String({ description: '`user`, `account`, `organization` or `invitation`' }),
          id: Type.Integer(),
        }),
        Type.Null(),
      ],
      { description: 'What it was done to; null when nothing identifiable (a login with an unknown email)' },
    ),
    request_id: Type.Union([Type.String(), Type.Null()], {
      description: 'The `X-Request-Id` of the request',
    }),
    ip: Type.Union([Type.String(), Type.Null()], { description: 'The client address (per `TRUST_PROXY`)' }),
    detail: Type.Record(Type.String(), Type.Unknown(), {
      description: 'A small JSON object about the event (e.g. the reason of a failed login); never a secret',
    }),
  },
  { title: 'AuditEvent', description: 'One security-relevant event' },
);

const AuditEventPage = Type.Object(
  { items: Type.Array(AuditEvent), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  { title: 'AuditEventPage' },
);

const ActionFilter = Type.Union(
  AUDIT_ACTIONS.map((action) => Type.Literal(action)),
  { description: 'Only this action (tenant actions in a tenant, core actions in the core; else 422)' },
);

/** preParsing guard: any core user in the core; an owner or admin in a tenant (members: 403). */
async function requireAuditReader(request: FastifyRequest): Promise<void> {
  await requireUser(request);
  if (!request.tenant) return;
  const role = request.tenantUser?.role;
  if (role !== 'owner' && role !== 'admin')
    throw new AppError('FORBIDDEN', 'Only owners and admins can read the audit log');
}

/** /api/audit-events: the audit log of the request's plane, for those allowed to read it. */
export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { audit } = app.services;

  app.get(
    '/audit-events',
    {
      config: { context: 'both' },
      preParsing: requireAuditReader,
      schema: {
        tags: ['audit'],
        summary: 'Audit events, newest first (tenant: owners and admins; core: your own)',
        description:
          "Tenant context: the tenant's events (logins, logouts, password, role and status changes, deletions, " +
          'invitations, owner token exchanges), for owners and admins. Core context: the core events of the ' +
          "caller's organizations and of the caller's own account. Events older than `AUDIT_RETENTION_DAYS` are " +
          'pruned. `since` is inclusive, `until` exclusive.',
        operationId: 'listAuditEvents',
        headers: Type.Object({ 'x-tenant': Type.Optional(Type.String()) }),
        security: BEARER_SECURITY,
        querystring: Type.Object({
          ...PageQuery,
          action: Type.Optional(ActionFilter),
          actor_id: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: "Only this actor's events" }),
          ),
          since: Type.Optional(Type.String({ format: 'date-time', description: 'Events at or after' })),
          until: Type.Optional(Type.String({ format: 'date-time', description: 'Events before' })),
        }),
        response: { 200: AuditEventPage, ...errorResponses({ 403: ['FORBIDDEN'] }) },
      },
    },
    async (request) =>
      request.tenant
        ? audit.listTenant(request.tenant, request.query)
        : audit.listCore(signedIn(request.coreUser).id, request.query),
  );
};
