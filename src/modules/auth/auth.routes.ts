import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { normalizeEmail } from '../../auth/emails.js';
import { AppError } from '../../errors.js';
import {
  CoreUser,
  EmailInput,
  errorResponses,
  LoginPasswordInput,
  Message,
  OpaqueToken,
  PasswordInput,
  TenantUser,
  TokenResponse,
} from '../../http/schemas.js';
import { noStore } from '../../http/no-store.js';
import { authRateLimit } from '../../plugins/rate-limit.js';
import { toCoreUserView } from '../core-auth/core-auth.service.js';

const TENANT_HEADER = Type.Object({
  'x-tenant': Type.Optional(
    Type.String({ description: 'Organization id or slug; absent for the core context' }),
  ),
});

/**
 * /api/auth/*: the same paths serve the core context (no X-TENANT) and a tenant's context (X-TENANT), as in the
 * service this replaces. Verification and password reset exist only in the core.
 */
export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { coreAuth, tenantAuth } = app.services;
  const authLimit = authRateLimit(app.config.authRateLimit);

  app.post(
    '/auth/register',
    {
      config: { context: 'both', ...authLimit },
      schema: {
        tags: ['auth'],
        summary: 'Register (core account, or a member of the tenant named by X-TENANT)',
        description:
          'Core: creates a core user and emails a verification link (never returned). ' +
          'Tenant: creates a tenant user with role `member`, unless the organization disabled sign-up. ' +
          '`is_owner` is ignored in a tenant context.',
        headers: TENANT_HEADER,
        body: Type.Object({
          email: EmailInput,
          password: PasswordInput,
          is_owner: Type.Optional(Type.Boolean()),
        }),
        response: {
          201: Type.Union([Type.Object({ user: CoreUser, message: Type.String() }), TenantUser]),
          ...errorResponses(400, 403, 404, 409, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const email = normalizeEmail(request.body.email);
      if (request.tenant) {
        return reply.code(201).send(await tenantAuth.register(request.tenant, email, request.body.password));
      }
      const user = await coreAuth.register({
        email,
        password: request.body.password,
        is_owner: request.body.is_owner ?? false,
      });
      return reply.code(201).send({ user: toCoreUserView(user), message: 'Verification email sent' });
    },
  );

  const verifySchema = {
    tags: ['auth'],
    response: { 200: Message, ...errorResponses(400, 404, 422) },
  };
  const verify = async (token: string) =>
    (await coreAuth.verifyEmail(token)) === 'verified'
      ? { message: 'Email verified successfully' }
      : { message: 'Email already verified' };

  app.get(
    '/auth/verify',
    {
      config: { context: 'core' },
      schema: {
        ...verifySchema,
        summary: 'Verify an email (the emailed link)',
        querystring: Type.Object({ token: OpaqueToken }),
      },
    },
    async (request) => verify(request.query.token),
  );

  app.post(
    '/auth/verify',
    {
      config: { context: 'core' },
      schema: {
        ...verifySchema,
        summary: 'Verify an email with the emailed token',
        body: Type.Object({ token: OpaqueToken }),
      },
    },
    async (request) => verify(request.body.token),
  );

  app.post(
    '/auth/verify/resend',
    {
      config: { context: 'core', ...authLimit },
      schema: {
        tags: ['auth'],
        summary: 'Send a new verification link',
        description: 'Always 202, whether or not the account exists or is already verified.',
        body: Type.Object({ email: EmailInput }),
        response: { 202: Message, ...errorResponses(400, 422, 429) },
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
          headers: TENANT_HEADER,
          consumes: ['application/json', 'application/x-www-form-urlencoded'],
          body: Type.Object({
            email: Type.Optional(EmailInput),
            username: Type.Optional(EmailInput),
            password: LoginPasswordInput,
          }),
          response: { 200: TokenResponse, ...errorResponses(400, 401, 403, 404, 422, 429, 503) },
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
        if (request.tenant) return tenantAuth.login(request.tenant, email, request.body.password);
        return coreAuth.login(email, request.body.password);
      },
    );
  });

  const refreshBody = Type.Object({ refresh_token: OpaqueToken });

  app.post(
    '/auth/refresh',
    {
      config: { context: 'both', ...authLimit },
      onSend: noStore,
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for new tokens (rotation; reuse revokes the family)',
        headers: TENANT_HEADER,
        body: refreshBody,
        response: { 200: TokenResponse, ...errorResponses(400, 401, 404, 422, 429, 503) },
      },
    },
    async (request) =>
      request.tenant
        ? tenantAuth.refresh(request.tenant, request.body.refresh_token)
        : coreAuth.refresh(request.body.refresh_token),
  );

  app.post(
    '/auth/logout',
    {
      config: { context: 'both' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke a refresh token (and the session it belongs to)',
        headers: TENANT_HEADER,
        body: refreshBody,
        response: { 204: Type.Null(), ...errorResponses(400, 404, 422, 503) },
      },
    },
    async (request, reply) => {
      if (request.tenant) await tenantAuth.logout(request.tenant, request.body.refresh_token);
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
        body: Type.Object({ email: EmailInput }),
        response: { 202: Message, ...errorResponses(400, 422, 429) },
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
        body: Type.Object({ token: OpaqueToken, password: PasswordInput }),
        response: { 204: Type.Null(), ...errorResponses(400, 404, 422, 429) },
      },
    },
    async (request, reply) => {
      await coreAuth.confirmPasswordReset(request.body.token, request.body.password);
      return reply.code(204).send(null);
    },
  );
};
