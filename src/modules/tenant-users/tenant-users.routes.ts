import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { authenticated as signedIn, requireTenantAdmin } from '../../http/auth-guards.js';
import { BEARER_SECURITY, errorResponses, TENANT_HEADER_REQUIRED } from '../../http/schemas.js';
import { auditSource } from '../audit/audit-source.js';
import { PageQuery } from '../shared/pagination.js';
import { TenantRole, TenantUser } from './tenant-users.schemas.js';

const UserId = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

const TenantUserPage = Type.Object(
  { items: Type.Array(TenantUser), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  { title: 'TenantUserPage' },
);
const ADMIN_ERRORS = { 403: ['FORBIDDEN'], 404: ['NOT_FOUND'] } as const;
const CHANGE_ERRORS = {
  403: ['FORBIDDEN'],
  404: ['NOT_FOUND'],
  409: ['LAST_OWNER', 'OWNER_PROTECTED'],
} as const;

/**
 * /api/users and /api/users/:id: tenant user administration for owners and admins. The caller's own account
 * (/api/users/me, either plane) is served by the accounts routes, registered just before these.
 */
export const tenantUsersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { tenantUsers } = app.services;

  app.get(
    '/users',
    {
      config: { context: 'tenant' },
      preParsing: requireTenantAdmin,
      schema: {
        tags: ['users'],
        summary: "List the tenant's users (owners and admins), inactive ones included",
        operationId: 'listUsers',
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        querystring: Type.Object({
          ...PageQuery,
          q: Type.Optional(
            Type.String({ maxLength: 320, description: 'Only users whose email contains this' }),
          ),
        }),
        response: { 200: TenantUserPage, ...errorResponses({ 403: ['FORBIDDEN'] }) },
      },
    },
    async (request) => tenantUsers.list(signedIn(request.tenant), request.query),
  );

  app.get(
    '/users/:id',
    {
      config: { context: 'tenant' },
      preParsing: requireTenantAdmin,
      schema: {
        tags: ['users'],
        summary: 'One tenant user (owners and admins)',
        operationId: 'getUser',
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        params: UserId,
        response: { 200: TenantUser, ...errorResponses(ADMIN_ERRORS) },
      },
    },
    async (request) => tenantUsers.get(signedIn(request.tenant), request.params.id),
  );

  app.patch(
    '/users/:id',
    {
      config: { context: 'tenant' },
      preParsing: requireTenantAdmin,
      schema: {
        tags: ['users'],
        summary: "Change a user's role or active flag (owners and admins; only owners touch owners)",
        description:
          "The organization's owner (the user linked to its core owner) cannot be demoted or deactivated " +
          '(409 OWNER_PROTECTED), nor the last active owner (409 LAST_OWNER). An admin acting on an owner: 403.',
        operationId: 'updateUser',
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        params: UserId,
        body: Type.Object(
          { role: Type.Optional(TenantRole), is_active: Type.Optional(Type.Boolean()) },
          { title: 'UpdateTenantUserRequest' },
        ),
        response: { 200: TenantUser, ...errorResponses(CHANGE_ERRORS) },
      },
    },
    async (request) =>
      tenantUsers.administer(
        signedIn(request.tenant),
        signedIn(request.tenantUser),
        request.params.id,
        request.body,
        auditSource(request),
      ),
  );

  app.delete(
    '/users/:id',
    {
      config: { context: 'tenant' },
      preParsing: requireTenantAdmin,
      schema: {
        tags: ['users'],
        summary:
          'Delete a tenant user (owners and admins; never the organization owner: 409 OWNER_PROTECTED)',
        operationId: 'deleteUser',
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        params: UserId,
        response: { 204: Type.Null(), ...errorResponses(CHANGE_ERRORS) },
      },
    },
    async (request, reply) => {
      await tenantUsers.remove(
        signedIn(request.tenant),
        signedIn(request.tenantUser),
        request.params.id,
        auditSource(request),
      );
      return reply.code(204).send(null);
    },
  );
};
