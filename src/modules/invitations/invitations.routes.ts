import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { normalizeEmail } from '../shared/emails.js';
import { authenticated as signedIn, requireTenantAdmin } from '../../http/auth-guards.js';
import { PageQuery } from '../shared/pagination.js';
import {
  BEARER_SECURITY,
  EmailInput,
  errorResponses,
  OpaqueToken,
  PasswordInput,
  PUBLIC,
  TENANT_HEADER_REQUIRED,
} from '../../http/schemas.js';
import { authRateLimit } from '../../http/plugins/rate-limit.js';
import { auditSource } from '../audit/audit-source.js';
import { TenantRole, TenantUser } from '../tenant-users/tenant-users.schemas.js';

const InvitationId = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });
const InvitationStatus = Type.Union(
  [Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('revoked'), Type.Literal('expired')],
  { title: 'InvitationStatus', description: '`expired`: still pending, but past `expires_at`' },
);

const Invitation = Type.Object(
  {
    id: Type.Integer(),
    email: Type.String({ description: 'Stored lower-case' }),
    role: TenantRole,
    status: InvitationStatus,
    invited_by: Type.Union([Type.Integer(), Type.Null()], {
      description: 'The tenant user who sent it (null once that user is deleted)',
    }),
    expires_at: Type.String({ format: 'date-time' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'Invitation', description: 'An invitation into the organization; its token is only ever emailed' },
);
const InvitationPage = Type.Object(
  { items: Type.Array(Invitation), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  { title: 'InvitationPage' },
);
const InvitationLookup = Type.Object(
  {
    organization: Type.Object({ name: Type.String(), slug: Type.String() }),
    email: Type.String({ description: 'The invited address (the user to be created)' }),
    role: TenantRole,
    expires_at: Type.String({ format: 'date-time' }),
  },
  { title: 'InvitationLookup', description: 'What the invitation is for, shown before accepting' },
);
const TOKEN_ERRORS = { 400: ['TOKEN_EXPIRED'], 404: ['TOKEN_INVALID'] } as const;
const HANDLE_ERRORS = { 403: ['FORBIDDEN'], 404: ['NOT_FOUND'], 409: ['INVITATION_NOT_PENDING'] } as const;

/**
 * /api/invitations/*: owners and admins invite people into their tenant by email; the invitee looks the
 * invitation up and accepts it with the emailed token. Tenant context only.
 */
export const invitationsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { invitations } = app.services;
  // The routes that send mail or take an emailed token are limited like the other mail routes.
  const mailLimit = authRateLimit(app.config.authRateLimit);

  app.post(
    '/invitations',
    {
      config: { context: 'tenant', ...mailLimit },
      preParsing: requireTenantAdmin,
      schema: {
        tags: ['invitations'],
        summary: 'Invite an email into the organization with a role (owners and admins)',
        description:
          'Emails a single-use link `PUBLIC_URL/invitations/accept?tenant=<slug>&token=<T>`, valid ' +
          '`VERIFICATION_TOKEN_EXPIRE_HOURS`. A pending invitation of the same email is revoked and replaced ' +
          '(its link stops working). Admins cannot invite owners (403 FORBIDDEN); an email that already has ' +
          'a user in this organization is 409 ALREADY_MEMBER.',
        operationId: 'createInvitation',
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        body: Type.Object({ email: EmailInput, role: TenantRole }, { title: 'CreateInvitationRequest' }),
        response: {
          201: Invitation,
          ...errorResponses({ 403: ['FORBIDDEN'], 409: ['ALREADY_MEMBER', 'CONFLICT'] }),
        },
      },
    },
    async (request, reply) => {
      const email = normalizeEmail(request.body.email);
      const created = await invitations.invite(
        signedIn(request.tenant),
        signedIn(request.tenantUser),
        {
          email,
          role: request.body.role,
        },
        auditSource(request),
      );
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/invitations',
    {
      config: { context: 'tenant' },
      preParsing: requireTenantAdmin,
      schema: {
        tags: ['invitations'],
        summary: "List the organization's invitations in one status (owners and admins)",
        operationId: 'listInvitations',
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        querystring: Type.Object({
          ...PageQuery,
          status: Type.Optional(
            Type.Union(
              [
                Type.Literal('pending'),
                Type.Literal('accepted'),
                Type.Literal('revoked'),
                Type.Literal('expired'),
              ],
              { default: 'pending', description: 'Which invitations (default: pending)' },
            ),
          ),
        }),
        response: { 200: InvitationPage, ...errorResponses({ 403: ['FORBIDDEN'] }) },
      },
    },
    async (request) => invitations.list(signedIn(request.tenant), request.query),
  );

  app.get(
    '/invitations/lookup',
    {
      config: { context: 'tenant', ...mailLimit },
      schema: {
        tags: ['invitations'],
        summary: 'What an invitation token is for (organization, email, role), before accepting',
        description:
          'No authentication: the token is the credential. Used, revoked, replaced or unknown tokens: 404 ' +
          "TOKEN_INVALID; expired: 400 TOKEN_EXPIRED. Only the invitee's own email is shown.",
        operationId: 'lookupInvitation',
        headers: TENANT_HEADER_REQUIRED,
        security: PUBLIC,
        querystring: Type.Object({ token: OpaqueToken }),
        response: { 200: InvitationLookup, ...errorResponses(TOKEN_ERRORS) },
      },
    },
    async (request) => invitations.lookup(signedIn(request.tenant), request.query.token),
  );

  app.post(
    '/invitations/accept',
    {
      config: { context: 'tenant', ...mailLimit },
      schema: {
        tags: ['invitations'],
        summary: 'Accept an invitation: creates the tenant user with the invited role',
        description:
          'Works even when the organization disabled open sign-up. The token is single use. 409 ' +
          'ALREADY_MEMBER when a user with the invited email exists by now. Log in afterwards with ' +
          '`POST /api/auth/login`.',
        operationId: 'acceptInvitation',
        headers: TENANT_HEADER_REQUIRED,
        security: PUBLIC,
        body: Type.Object(
          { token: OpaqueToken, password: PasswordInput },
          { title: 'AcceptInvitationRequest' },
        ),
        response: {
          201: TenantUser,
          ...errorResponses({ ...TOKEN_ERRORS, 409: ['ALREADY_MEMBER'] }),
        },
      },
    },
    async (request, reply) => {
      const user = await invitations.accept(
        signedIn(request.tenant),
        request.body.token,
        request.body.password,
        auditSource(request),
      );
      return reply.code(201).send(user);
    },
  );

  app.delete(
    '/invitations/:id',
    {
      config: { context: 'tenant' },
      preParsing: requireTenantAdmin,
      schema: {
        tags: ['invitations'],
        summary: 'Revoke an invitation: its link stops working (owners and admins)',
        description:
          'Idempotent: revoking a revoked invitation is 204 again. An accepted one is 409 ' +
          'INVITATION_NOT_PENDING (remove the user instead). Only owners revoke invitations of owners.',
        operationId: 'revokeInvitation',
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        params: InvitationId,
        response: { 204: Type.Null(), ...errorResponses(HANDLE_ERRORS) },
      },
    },
    async (request, reply) => {
      await invitations.revoke(
        signedIn(request.tenant),
        signedIn(request.tenantUser),
        request.params.id,
        auditSource(request),
      );
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/invitations/:id/resend',
    {
      config: { context: 'tenant', ...mailLimit },
      preParsing: requireTenantAdmin,
      schema: {
        tags: ['invitations'],
        summary: 'Email a pending invitation again, with a new link (owners and admins)',
        description:
          'The previous link stops working and the expiry starts again. Accepted, revoked and expired ' +
          'invitations are 409 INVITATION_NOT_PENDING (invite the email anew instead).',
        operationId: 'resendInvitation',
        headers: TENANT_HEADER_REQUIRED,
        security: BEARER_SECURITY,
        params: InvitationId,
        response: { 202: Invitation, ...errorResponses(HANDLE_ERRORS) },
      },
    },
    async (request, reply) => {
      const resent = await invitations.resend(
        signedIn(request.tenant),
        signedIn(request.tenantUser),
        request.params.id,
        auditSource(request),
      );
      return reply.code(202).send(resent);
    },
  );
};
