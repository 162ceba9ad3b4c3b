import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { normalizeEmail } from '../../auth/emails.js';
import { AppError } from '../../errors.js';
import { authenticated as signedIn, requireTenantAdmin, requireUser } from '../../http/auth-guards.js';
import { PageQuery } from '../../http/pagination.js';
import {
  BEARER_SECURITY,
  CoreUser,
  EmailInput,
  errorResponses,
  LoginPasswordInput,
  PasswordInput,
  TenantUser,
} from '../../http/schemas.js';
import { toCoreUserView } from '../core-auth/core-auth.service.js';
import { toTenantUserView } from '../tenant-users/tenant-user-view.js';

const TENANT_HEADER = Type.Object({ 'x-tenant': Type.Optional(Type.String()) });
const TENANT_HEADER_REQUIRED = Type.Object({
  'x-tenant': Type.String({ description: 'Organization id or slug' }),
});
const UserId = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

const UpdateMe = Type.Object({
  email: Type.Optional(EmailInput),
  password: Type.Optional(PasswordInput),
  current_password: Type.Optional(LoginPasswordInput),
});

// Fastify types schemas as plain objects; a TypeBox schema is one (compiled serializers are cached per object).
const TENANT_USER_SCHEMA = TenantUser as unknown as Record<string, unknown>;
const CORE_USER_SCHEMA = CoreUser as unknown as Record<string, unknown>;

/** /api/users/*: the caller's own account in either plane, and tenant user administration for owners and admins. */
export const usersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { coreAuth, tenantUsers } = app.services;

  app.get(
    '/users/me',
    {
      config: { context: 'both' },
      preParsing: requireUser,
      schema: {
        tags: ['users'],
        summary: 'The caller (a core user, or a tenant user with X-TENANT)',
        headers: TENANT_HEADER,
        security: BEARER_SECURITY,
        response: { 200: Type.Union([CoreUser, TenantUser]), ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      // The plane is known here: serializing with its own schema skips the union's per-branch validation (the
      // response schema stays the union, for validation of the contract and for the OpenAPI document).
      if (request.tenant) {
        reply.serializer(reply.compileSerializationSchema(TENANT_USER_SCHEMA, '200'));
        return toTenantUserView(signedIn(request.tenantUser));
      }
      reply.serializer(reply.compileSerializationSchema(CORE_USER_SCHEMA, '200'));
      return toCoreUserView(signedIn(request.coreUser));
    },
  );

  type UpdateMeRequest = FastifyRequest<{
    Body: { email?: string; password?: string; current_password?: string };
  }>;

  const updateTenantSelf = async (request: UpdateMeRequest) => {
    const { email, ...rest } = request.body;
    return tenantUsers.updateSelf(signedIn(request.tenant), signedIn(request.tenantUser), {
      ...rest,
      ...(email === undefined ? {} : { email: normalizeEmail(email) }),
    });
  };

  const updateMe = async (request: UpdateMeRequest) => {
    if (request.tenant) return updateTenantSelf(request);
    const body = request.body;
    if (body.email !== undefined || body.password === undefined) {
      throw new AppError(
        'VALIDATION_ERROR',
        'Invalid body: core accounts can only change their password here',
        {
          errors: [
            {
              path: body.email !== undefined ? '/email' : '/password',
              message: 'only password changes are supported',
            },
          ],
        },
      );
    }
    return toCoreUserView(
      await coreAuth.changePassword(signedIn(request.coreUser), body.current_password, body.password),
    );
  };

  app.patch(
    '/users/me',
    {
      config: { context: 'both' },
      preParsing: requireUser,
      schema: {
        tags: ['users'],
        summary:
          'Update the caller: core {password, current_password}; tenant {email?, password?, current_password?}',
        description:
          'Changing a password needs `current_password` (401 INVALID_CREDENTIALS when wrong) and ends the other sessions.',
        headers: TENANT_HEADER,
        security: BEARER_SECURITY,
        body: UpdateMe,
        response: {
          200: Type.Union([CoreUser, TenantUser]),
          ...errorResponses(400, 401, 403, 404, 409, 422, 503),
        },
      },
    },
    updateMe,
  );

  app.put(
    '/users/me',
    {
      config: { context: 'tenant' },
      preParsing: requireUser,
      schema: {
        tags: ['users'],
        summary: 'Update the caller in a tenant (same as PATCH)',
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        body: UpdateMe,
        response: { 200: TenantUser, ...errorResponses(400, 401, 403, 404, 409, 422, 503) },
      },
    },
    updateTenantSelf,
  );

  app.get(
    '/users',
    {
      config: { context: 'tenant' },
      preParsing: requireTenantAdmin,
      schema: {
        tags: ['users'],
        summary: "List the tenant's users (owners and admins), inactive ones included",
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        querystring: Type.Object({ ...PageQuery, q: Type.Optional(Type.String({ maxLength: 320 })) }),
        response: {
          200: Type.Object({
            items: Type.Array(TenantUser),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errorResponses(400, 401, 403, 404, 422, 503),
        },
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
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        params: UserId,
        response: { 200: TenantUser, ...errorResponses(400, 401, 403, 404, 422, 503) },
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
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        params: UserId,
        body: Type.Object({
          role: Type.Optional(
            Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]),
          ),
          is_active: Type.Optional(Type.Boolean()),
        }),
        response: { 200: TenantUser, ...errorResponses(400, 401, 403, 404, 409, 422, 503) },
      },
    },
    async (request) =>
      tenantUsers.administer(
        signedIn(request.tenant),
        signedIn(request.tenantUser),
        request.params.id,
        request.body,
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
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        params: UserId,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      await tenantUsers.remove(signedIn(request.tenant), signedIn(request.tenantUser), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
