import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { normalizeEmail } from '../shared/emails.js';
import { AppError } from '../../errors.js';
import { authenticated as signedIn, requireTenantAdmin, requireUser } from '../../http/auth-guards.js';
import { PageQuery } from '../shared/pagination.js';
import {
  BEARER_SECURITY,
  CoreUser,
  EmailInput,
  errorResponses,
  LoginPasswordInput,
  PasswordInput,
  TenantRole,
  TENANT_HEADER_REQUIRED,
  TenantUser,
} from '../../http/schemas.js';
import { auditSource } from '../audit/audit-source.js';
import { toCoreUserView } from '../accounts/accounts.service.js';
import { toTenantUserView } from './tenant-user-view.js';

const TENANT_HEADER = Type.Object({ 'x-tenant': Type.Optional(Type.String()) });
const UserId = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

const UpdateMe = Type.Object(
  {
    email: Type.Optional(EmailInput),
    password: Type.Optional(PasswordInput),
    current_password: Type.Optional(LoginPasswordInput),
  },
  { title: 'UpdateMeRequest', description: 'Core: `password` and `current_password` only' },
);
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
        operationId: 'getMe',
        headers: TENANT_HEADER,
        security: BEARER_SECURITY,
        response: { 200: Type.Union([CoreUser, TenantUser]) },
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
    return tenantUsers.updateSelf(
      signedIn(request.tenant),
      signedIn(request.tenantUser),
      { ...rest, ...(email === undefined ? {} : { email: normalizeEmail(email) }) },
      auditSource(request),
    );
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
      await coreAuth.changePassword(
        signedIn(request.coreUser),
        body.current_password,
        body.password,
        auditSource(request),
      ),
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
        operationId: 'updateMe',
        headers: TENANT_HEADER,
        security: BEARER_SECURITY,
        body: UpdateMe,
        response: {
          200: Type.Union([CoreUser, TenantUser]),
          ...errorResponses({ 401: ['INVALID_CREDENTIALS'], 409: ['EMAIL_TAKEN'] }),
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
        operationId: 'replaceMe',
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        body: UpdateMe,
        response: {
          200: TenantUser,
          ...errorResponses({ 401: ['INVALID_CREDENTIALS'], 409: ['EMAIL_TAKEN'] }),
        },
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
