import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../errors.js';
import { authenticated as signedIn, requireUser } from '../../http/auth-guards.js';
import { noStore } from '../../http/no-store.js';
import {
  BEARER_SECURITY,
  EmailInput,
  errorResponses,
  LoginPasswordInput,
  Message,
  OpaqueToken,
  PasswordInput,
  PUBLIC,
  TENANT_HEADER_REQUIRED,
} from '../../http/schemas.js';
import { authRateLimit } from '../../http/plugins/rate-limit.js';
import { auditSource } from '../audit/audit-source.js';
import { normalizeEmail } from '../shared/emails.js';
import { TokenResponse } from '../shared/token-response.js';
import { toTenantUserView } from '../tenant-users/tenant-user-view.js';
import { TenantUser } from '../tenant-users/tenant-users.schemas.js';
import { CoreUser } from './accounts.schemas.js';
import { toCoreUserView } from './accounts.service.js';

const TENANT_HEADER = Type.Object({
  'x-tenant': Type.Optional(
    Type.String({ description: 'Organization id or slug; absent for the core context' }),
  ),
});

const CoreRegistration = Type.Object(
  { user: CoreUser, message: Type.String() },
  { title: 'CoreRegistration', description: 'A new core account; its verification link was emailed' },
);
const EmailBody = Type.Object({ email: EmailInput }, { title: 'EmailRequest' });
const TokenBody = Type.Object({ token: OpaqueToken }, { title: 'VerifyEmailRequest' });

const ME_TENANT_HEADER = Type.Object({ 'x-tenant': Type.Optional(Type.String()) });
const UpdateMe = Type.Object(
  {
    email: Type.Optional(EmailInput),
    password: Type.Optional(PasswordInput),
    current_password: Type.Optional(LoginPasswordInput),
  },
  { title: 'UpdateMeRequest', description: 'Core: `password` and `current_password` only' },
);

// Fastify types schemas as plain objects; a TypeBox schema is one (compiled serializers are cached per object).
const TENANT_USER_SCHEMA = TenantUser as unknown as Record<string, unknown>;
const CORE_USER_SCHEMA = CoreUser as unknown as Record<string, unknown>;

/**
 * /api/auth/* and /api/users/me: the caller's account. The same paths serve the core context (no X-TENANT) and a
 * tenant's context (X-TENANT), as in the service this replaces, so both planes' handlers meet here and hand over
 * to the core's AccountsService or to the tenant's services (tenant-accounts, tenant-users). Verification and
 * password reset exist only in the core.
 */
export const accountsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { coreAuth, tenantAuth, tenantUsers } = app.services;
  const authLimit = authRateLimit(app.config.authRateLimit);

  app.post(
    '/auth/register',
    {
      config: { context: 'both', ...authLimit },
      schema: {
        tags: ['auth'],
        summary: 'Register (core account, or a member of the tenant named by X-TENANT)',
        operationId: 'register',
        security: PUBLIC,
        description:
          'Core: creates a core user and emails a verification link (never returned). ' +
          'Tenant: creates a tenant user with role `member`, unless the organization disabled sign-up. ' +
          '`is_owner` is ignored in a tenant context.',
        headers: TENANT_HEADER,
        body: Type.Object(
          {
            email: EmailInput,
            password: PasswordInput,
            is_owner: Type.Optional(
              Type.Boolean({
                description: 'Core only: the account may create organizations (default false)',
              }),
            ),
          },
          { title: 'RegisterRequest' },
        ),
        response: {
          201: Type.Union([CoreRegistration, TenantUser]),
          ...errorResponses({ 403: ['SIGNUP_DISABLED'], 409: ['EMAIL_TAKEN'] }),
        },
      },
    },
    async (request, reply) => {
      const email = normalizeEmail(request.body.email);
      if (request.tenant) {
        return reply.code(201).send(await tenantAuth.register(request.tenant, email, request.body.password));
      }
      const user = await coreAuth.register(
        { email, password: request.body.password, is_owner: request.body.is_owner ?? false },
        auditSource(request),
      );
      return reply.code(201).send({ user: toCoreUserView(user), message: 'Verification email sent' });
    },
  );

  const verifySchema = {
    tags: ['auth'],
    security: PUBLIC,
    response: { 200: Message, ...errorResponses({ 400: ['TOKEN_EXPIRED'], 404: ['TOKEN_INVALID'] }) },
  };
  const verify = async (request: FastifyRequest, token: string) =>
    (await coreAuth.verifyEmail(token, auditSource(request))) === 'verified'
      ? { message: 'Email verified successfully' }
      : { message: 'Email already verified' };

  app.get(
    '/auth/verify',
    {
      config: { context: 'core' },
      schema: {
        ...verifySchema,
        summary: 'Verify an email (the emailed link)',
        operationId: 'verifyEmailByLink',
        querystring: Type.Object({ token: OpaqueToken }),
      },
    },
    async (request) => verify(request, request.query.token),
  );

  app.post(
    '/auth/verify',
    {
      config: { context: 'core' },
      schema: {
        ...verifySchema,
        summary: 'Verify an email with the emailed token',
        operationId: 'verifyEmail',
        body: TokenBody,
      },
    },
    async (request) => verify(request, request.body.token),
  );

  app.post(
    '/auth/verify/resend',
    {
      config: { context: 'core', ...authLimit },
      schema: {
        tags: ['auth'],
        summary: 'Send a new verification link',
        description: 'Always 202, whether or not the account exists or is already verified.',
        operationId: 'resendVerification',
        security: PUBLIC,
        body: EmailBody,
        response: { 202: Message },
      },
    },
    async (request, reply) => {
      await coreAuth.resendVerification(normalizeEmail(request.body.email));
      return reply
        .code(202)
        .send({ message: 'If the account exists and is not verified, a new link was sent' });
    },
  );

  // The OAuth2 password form (Swagger UI's Authorize button) is the one non-JSON body the API takes: its parser
  // lives in a scope of its own, so every other route answers a form (or any non-JSON type) with 415.
  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    await scope.register(formbody);
    scope.post(
      '/auth/login',
      {
        config: { context: 'both', ...authLimit },
        onSend: noStore,
        schema: {
          tags: ['auth'],
          summary: 'Log in: JSON {email, password} or the OAuth2 password form (username, password)',
          description:
            'Core: an unverified account gets 403 EMAIL_NOT_VERIFIED. Tenant: an inactive user with the right ' +
            'password gets 403 USER_INACTIVE. Send `email` (JSON) or `username` (the form).',
          operationId: 'login',
          security: PUBLIC,
          headers: TENANT_HEADER,
          consumes: ['application/json', 'application/x-www-form-urlencoded'],
          body: Type.Object(
            {
              email: Type.Optional(EmailInput),
              username: Type.Optional(
                Type.String({ ...EmailInput, description: 'The email, in the form flow' }),
              ),
              password: LoginPasswordInput,
            },
            { title: 'LoginRequest' },
          ),
          response: {
            200: TokenResponse,
            ...errorResponses({
              401: ['INVALID_CREDENTIALS'],
              403: ['EMAIL_NOT_VERIFIED', 'USER_INACTIVE'],
            }),
          },
        },
      },
      async (request) => {
        const raw = request.body.email ?? request.body.username;
        if (raw === undefined) {
          throw new AppError('VALIDATION_ERROR', 'Invalid body: /email is required', {
            errors: [{ path: '/email', message: 'is required (or username, in the form flow)' }],
          });
        }
        const email = normalizeEmail(raw, request.body.email === undefined ? '/username' : '/email');
        const source = auditSource(request);
        if (request.tenant) return tenantAuth.login(request.tenant, email, request.body.password, source);
        return coreAuth.login(email, request.body.password, source);
      },
    );
  });

  const refreshBody = Type.Object({ refresh_token: OpaqueToken }, { title: 'RefreshTokenRequest' });

  app.post(
    '/auth/refresh',
    {
      config: { context: 'both', ...authLimit },
      onSend: noStore,
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for new tokens (rotation; reuse revokes the family)',
        operationId: 'refreshTokens',
        security: PUBLIC,
        headers: TENANT_HEADER,
        body: refreshBody,
        response: { 200: TokenResponse, ...errorResponses({ 401: ['REFRESH_TOKEN_INVALID'] }) },
      },
    },
    async (request) =>
      request.tenant
        ? tenantAuth.refresh(request.tenant, request.body.refresh_token, auditSource(request))
        : coreAuth.refresh(request.body.refresh_token),
  );

  app.post(
    '/auth/logout',
    {
      config: { context: 'both' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke a refresh token (and the session it belongs to)',
        operationId: 'logout',
        security: PUBLIC,
        headers: TENANT_HEADER,
        body: refreshBody,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      if (request.tenant)
        await tenantAuth.logout(request.tenant, request.body.refresh_token, auditSource(request));
      else await coreAuth.logout(request.body.refresh_token);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/password-reset',
    {
      config: { context: 'core', ...authLimit },
      schema: {
        tags: ['auth'],
        summary: 'Email a password reset link',
        description: 'Always 202, whether or not the account exists.',
        operationId: 'requestPasswordReset',
        security: PUBLIC,
        body: EmailBody,
        response: { 202: Message },
      },
    },
    async (request, reply) => {
      await coreAuth.requestPasswordReset(normalizeEmail(request.body.email));
      return reply.code(202).send({ message: 'If the account exists, a reset link was sent' });
    },
  );

  app.post(
    '/auth/password-reset/confirm',
    {
      config: { context: 'core', ...authLimit },
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with the emailed token; ends every session of the user',
        operationId: 'confirmPasswordReset',
        security: PUBLIC,
        body: Type.Object(
          { token: OpaqueToken, password: PasswordInput },
          { title: 'PasswordResetConfirmRequest' },
        ),
        response: { 204: Type.Null(), ...errorResponses({ 400: ['TOKEN_EXPIRED'], 404: ['TOKEN_INVALID'] }) },
      },
    },
    async (request, reply) => {
      await coreAuth.confirmPasswordReset(request.body.token, request.body.password, auditSource(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/users/me',
    {
      config: { context: 'both' },
      preParsing: requireUser,
      schema: {
        tags: ['users'],
        summary: 'The caller (a core user, or a tenant user with X-TENANT)',
        operationId: 'getMe',
        headers: ME_TENANT_HEADER,
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
        headers: ME_TENANT_HEADER,
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
};
