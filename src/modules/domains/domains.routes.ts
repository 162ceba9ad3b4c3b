import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { authenticated as owner, requireCoreUser } from '../../http/auth-guards.js';
import { BEARER_SECURITY, errorResponses } from '../../http/schemas.js';
import { MAX_DOMAINS_PER_ORGANIZATION } from './domains.service.js';
import { auditSource } from '../audit/audit-source.js';

const OrganizationDomain = Type.Object(
  {
    domain: Type.String({ description: 'Lower case, as requests name it in `Host`' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  {
    title: 'OrganizationDomain',
    description: "A custom domain: a request whose host is this domain runs in the organization's tenant",
  },
);
const OrganizationDomainPage = Type.Object(
  { items: Type.Array(OrganizationDomain), next_cursor: Type.Null({ description: 'Always one page' }) },
  { title: 'OrganizationDomainPage' },
);
const OrgId = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });
const OrgDomain = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
  domain: Type.String({ minLength: 1, maxLength: 253, description: 'The domain (any case)' }),
});

/** /api/organizations/{id}/domains: custom domains of an organization, for its owner (core only). */
export const domainsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { domains } = app.services;
  const common = { config: { context: 'core' as const }, preParsing: requireCoreUser };

  app.post(
    '/organizations/:id/domains',
    {
      ...common,
      schema: {
        tags: ['organizations'],
        summary: 'Attach a custom domain to an organization',
        description:
          "Requests whose host (`Host`, or `X-Forwarded-Host` from a proxy `TRUST_PROXY` trusts) is this domain run in the organization's tenant, as with `X-TENANT`. " +
          'The domain is stored lower-case. It must be a DNS host name of two labels or more, not `TENANT_BASE_DOMAIN` ' +
          "or a name under it (those are tenant subdomains already), nor the server's own host (`PUBLIC_URL`): 422. " +
          `A domain attached to any live organization (this one included) is 409 DOMAIN_TAKEN. At most ${MAX_DOMAINS_PER_ORGANIZATION} ` +
          'per organization (403 QUOTA_EXCEEDED). Domains are not verified: point DNS at the server for the domains you attach.',
        operationId: 'addOrganizationDomain',
        security: BEARER_SECURITY,
        params: OrgId,
        body: Type.Object(
          { domain: Type.String({ minLength: 1, maxLength: 253, description: 'e.g. `shop.acme.io`' }) },
          { title: 'AddDomainRequest' },
        ),
        response: {
          201: OrganizationDomain,
          ...errorResponses({ 403: ['QUOTA_EXCEEDED'], 404: ['NOT_FOUND'], 409: ['DOMAIN_TAKEN'] }),
        },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await domains.add(owner(request.coreUser), request.params.id, request.body, auditSource(request)),
        ),
  );

  app.get(
    '/organizations/:id/domains',
    {
      ...common,
      schema: {
        tags: ['organizations'],
        summary: "An organization's custom domains",
        description: `All of them, alphabetically, in one page (at most ${MAX_DOMAINS_PER_ORGANIZATION}).`,
        operationId: 'listOrganizationDomains',
        security: BEARER_SECURITY,
        params: OrgId,
        response: { 200: OrganizationDomainPage, ...errorResponses({ 404: ['NOT_FOUND'] }) },
      },
    },
    async (request) => domains.list(owner(request.coreUser), request.params.id),
  );

  app.delete(
    '/organizations/:id/domains/:domain',
    {
      ...common,
      schema: {
        tags: ['organizations'],
        summary: 'Detach a custom domain',
        description:
          'Requests to it select no tenant any more, in every process at once (with `REDIS_URL`), and any organization may attach it.',
        operationId: 'removeOrganizationDomain',
        security: BEARER_SECURITY,
        params: OrgDomain,
        response: { 204: Type.Null(), ...errorResponses({ 404: ['NOT_FOUND'] }) },
      },
    },
    async (request, reply) => {
      await domains.remove(
        owner(request.coreUser),
        request.params.id,
        request.params.domain,
        auditSource(request),
      );
      return reply.code(204).send(null);
    },
  );
};
