import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { authenticated as owner, requireCoreUser } from '../../http/auth-guards.js';
import { noStore } from '../../http/no-store.js';
import { PageQuery } from '../shared/pagination.js';
import { BEARER_SECURITY, errorResponses, named } from '../../http/schemas.js';
import { TokenResponse } from '../shared/token-response.js';
import type { ErrorCode } from '../../errors.js';
import { auditSource } from '../audit/audit-source.js';
import { perUserRateLimit } from '../../http/plugins/rate-limit.js';

const Organization = Type.Object({
  id: Type.Integer(),
  organization_id: Type.Integer({ description: 'Equals id (an alias)' }),
  name: Type.String(),
  slug: Type.String(),
  status: Type.Union([
    Type.Literal('provisioning'),
    Type.Literal('active'),
    Type.Literal('suspended'),
    Type.Literal('deleting'),
    Type.Literal('failed'),
  ]),
  placement: Type.Union([Type.Literal('dedicated'), Type.Literal('shared')], {
    description:
      'dedicated: a database of its own; shared: a schema in a shared database (chosen by the server)',
  }),
  tenant_db_name: Type.Union([Type.String(), Type.Null()]),
  owner_id: Type.Integer(),
  allow_signup: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
});
named('Organization', Organization);
const OrgId = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });
const OrganizationPage = Type.Object(
  { items: Type.Array(Organization), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  { title: 'OrganizationPage' },
);
const NOT_FOUND: Partial<Record<number, ErrorCode[]>> = { 404: ['NOT_FOUND'] };

/** /api/organizations: core-only routes for owners. Someone else's organization answers 404. */
export const organizationsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { organizations } = app.services;
  // Authentication runs after the tenant check and rate limit (onRequest), before the body is parsed and validated.
  const common = { config: { context: 'core' as const }, preParsing: requireCoreUser };

  app.post(
    '/organizations',
    {
      ...common,
      // Each creation builds a database: ORGANIZATION_RATE_LIMIT per owner, whatever addresses they use.
      preHandler: perUserRateLimit('org-create', app.config.organizationRateLimit, (r) => r.coreUser?.id),
      schema: {
        tags: ['organizations'],
        summary: 'Create an organization and its tenant database (verified owners)',
        description:
          'Answers once the tenant database exists, is migrated and holds the owner as a tenant user with role `owner`. ' +
          'The slug is derived from the name when not given. An owner may have `MAX_ORGANIZATIONS_PER_OWNER` ' +
          'organizations that are not deleted (403 QUOTA_EXCEEDED past it) and create `ORGANIZATION_RATE_LIMIT` ' +
          'of them per window (429).',
        operationId: 'createOrganization',
        security: BEARER_SECURITY,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            slug: Type.Optional(
              Type.String({ maxLength: 63, description: '^[a-z][a-z0-9-]{1,62}$; from the name if absent' }),
            ),
          },
          { title: 'CreateOrganizationRequest' },
        ),
        response: {
          201: Organization,
          ...errorResponses({
            403: ['EMAIL_NOT_VERIFIED', 'NOT_OWNER', 'QUOTA_EXCEEDED'],
            409: ['CONFLICT', 'SLUG_TAKEN'],
            503: ['PROVISIONING_FAILED'],
          }),
        },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await organizations.create(owner(request.coreUser), request.body, auditSource(request))),
  );

  app.get(
    '/organizations',
    {
      ...common,
      schema: {
        tags: ['organizations'],
        summary: "The caller's organizations",
        operationId: 'listOrganizations',
        security: BEARER_SECURITY,
        querystring: Type.Object(PageQuery),
        response: { 200: OrganizationPage },
      },
    },
    async (request) => organizations.list(owner(request.coreUser), request.query),
  );

  app.get(
    '/organizations/:id',
    {
      ...common,
      schema: {
        tags: ['organizations'],
        summary: 'One of the caller’s organizations',
        operationId: 'getOrganization',
        security: BEARER_SECURITY,
        params: OrgId,
        response: { 200: Organization, ...errorResponses(NOT_FOUND) },
      },
    },
    async (request) => organizations.get(owner(request.coreUser), request.params.id),
  );

  app.patch(
    '/organizations/:id',
    {
      ...common,
      schema: {
        tags: ['organizations'],
        summary: 'Rename an organization or turn tenant sign-up on or off',
        operationId: 'updateOrganization',
        security: BEARER_SECURITY,
        params: OrgId,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            allow_signup: Type.Optional(Type.Boolean()),
          },
          { title: 'UpdateOrganizationRequest' },
        ),
        response: { 200: Organization, ...errorResponses(NOT_FOUND) },
      },
    },
    async (request) =>
      organizations.update(owner(request.coreUser), request.params.id, request.body, auditSource(request)),
  );

  app.delete(
    '/organizations/:id',
    {
      ...common,
      schema: {
        tags: ['organizations'],
        summary: 'Delete an organization and drop its tenant database',
        operationId: 'deleteOrganization',
        security: BEARER_SECURITY,
        params: OrgId,
        response: { 204: Type.Null(), ...errorResponses(NOT_FOUND) },
      },
    },
    async (request, reply) => {
      await organizations.delete(owner(request.coreUser), request.params.id, auditSource(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/organizations/:id/token',
    {
      ...common,
      onSend: noStore,
      schema: {
        tags: ['organizations'],
        summary: "A tenant token for the owner's user inside the organization (role owner)",
        operationId: 'exchangeOwnerToken',
        security: BEARER_SECURITY,
        params: OrgId,
        response: {
          200: TokenResponse,
          ...errorResponses({
            403: ['FORBIDDEN', 'TENANT_SUSPENDED'],
            404: ['NOT_FOUND'],
            503: ['TENANT_NOT_READY'],
          }),
        },
      },
    },
    async (request) =>
      organizations.ownerToken(owner(request.coreUser), request.params.id, auditSource(request)),
  );
};
