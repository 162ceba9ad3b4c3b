import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import type { PlacementKind } from '../../src/db/core-schema.js';
import { placementFromRow, type TenantPlacement } from '../../src/tenancy/placement/placement.js';
import { call, ownerWithOrganization, tokenFromOutbox, verifiedCoreUser, type Tokens } from './flows.js';

/** A tenant of the isolation world, with the secrets an attacker from elsewhere must not be able to use. */
export interface WorldTenant {
  id: number;
  slug: string;
  placement: TenantPlacement;
  ownerEmail: string;
  ownerCoreToken: string;
  ownerUserId: number;
  ownerToken: string;
  member: WorldMember;
  /** Its custom domain (`<slug>.io`; D has none: C's went with C). */
  domain: string | null;
  /** Its tenant subdomain under the isolation app's TENANT_BASE_DOMAIN. */
  subdomain: string;
}

/**
 * A user of a tenant and what it holds, including the token of an invitation its tenant emailed (pending for the
 * live tenants' members; a revoked one for B's deleted user): a credential public invitation routes take.
 */
export interface WorldMember {
  id: number;
  email: string;
  password: string;
  tokens: Tokens;
  invitationToken: string;
}

/** TENANT_BASE_DOMAIN of the isolation app: `<slug>.<it>` selects a tenant. */
export const WORLD_BASE_DOMAIN = 'isolation.test';

export interface World {
  a: WorldTenant;
  b: WorldTenant;
  /** Deleted organization: its id answers 404; its tokens are dead. */
  c: WorldTenant;
  /** A live organization that took over C's slug after C was deleted. */
  d: WorldTenant;
  /** A user of B who was deleted, with the tokens it held. */
  bGone: WorldMember;
}

const PASSWORD = 'member password 1';

export async function member(app: FastifyInstance, tenant: string, email: string) {
  const { id, tokens } = await registered(app, tenant, email);
  return { id, email, password: PASSWORD, tokens };
}

/** An invitation sent by a tenant's owner; returns its id and the token from the emailed link. */
async function invitation(app: FastifyInstance, tenant: string, ownerToken: string, email: string) {
  const sent = await call(app, 'POST', '/api/invitations', {
    tenant,
    token: ownerToken,
    body: { email, role: 'admin' },
  });
  if (sent.statusCode !== 201) throw new Error(`invite ${email}: ${sent.statusCode} ${sent.body}`);
  return {
    id: sent.json<{ id: number }>().id,
    token: await tokenFromOutbox(app, email, '/invitations/accept'),
  };
}

async function registered(app: FastifyInstance, tenant: string, email: string) {
  const reg = await call(app, 'POST', '/api/auth/register', { tenant, body: { email, password: PASSWORD } });
  if (reg.statusCode !== 201) throw new Error(`register ${email}: ${reg.statusCode} ${reg.body}`);
  const login = await call(app, 'POST', '/api/auth/login', { tenant, body: { email, password: PASSWORD } });
  if (login.statusCode !== 200) throw new Error(`login ${email}: ${login.statusCode} ${login.body}`);
  return { id: reg.json<{ id: number }>().id, tokens: login.json<Tokens>() };
}

/**
 * An owner with an organization of the given placement: through the API when it is the server's default, else
 * as the operator CLI does (the API does not let callers choose), then the owner's token exchange through the API.
 */
async function ownerWithPlacedOrganization(
  app: FastifyInstance,
  email: string,
  slug: string,
  kind: PlacementKind,
) {
  if (kind === app.config.tenantPlacement) return ownerWithOrganization(app, email, `Tenant ${slug}`, slug);
  const owner = await verifiedCoreUser(app, email, { isOwner: true });
  const row = await app.services.organizationRows.insertWithSlug(owner.id, `Tenant ${slug}`, slug, {
    placement: kind,
  });
  app.services.tenants.invalidate(row.id, row.slug);
  const org = await app.services.provisioner.provision(row.id);
  const exchanged = await call(app, 'POST', `/api/organizations/${org.id}/token`, {
    token: owner.tokens.access_token,
  });
  if (exchanged.statusCode !== 200) throw new Error(`owner token: ${exchanged.statusCode} ${exchanged.body}`);
  return { owner, org, tenantTokens: exchanged.json<Tokens>() };
}

async function tenant(
  app: FastifyInstance,
  key: string,
  slug: string,
  kind: PlacementKind,
): Promise<WorldTenant> {
  const ownerEmail = `owner-${key}@example.com`;
  const { owner, org, tenantTokens } = await ownerWithPlacedOrganization(app, ownerEmail, slug, kind);
  const row = await app.services.organizationRows.findById(org.id);
  const placement = row && placementFromRow(row, app.services.store.server);
  if (!placement || placement.kind !== kind) throw new Error(`tenant ${key} is not ${kind}`);
  return {
    id: org.id,
    slug: org.slug,
    placement,
    ownerEmail,
    ownerCoreToken: owner.tokens.access_token,
    ownerUserId: Number(decodeJwt(tenantTokens.access_token).sub),
    ownerToken: tenantTokens.access_token,
    member: {
      ...(await member(app, org.slug, `member-${key}@example.com`)),
      invitationToken: (
        await invitation(app, org.slug, tenantTokens.access_token, `invitee-${key}@example.com`)
      ).token,
    },
    domain: null,
    subdomain: `${org.slug}.${WORLD_BASE_DOMAIN}`,
  };
}

/** Attaches `<slug>.io` to a tenant's organization through the API, as its owner. */
async function withDomain(app: FastifyInstance, tenant: WorldTenant): Promise<WorldTenant> {
  const domain = `${tenant.slug}.io`;
  const res = await call(app, 'POST', `/api/organizations/${tenant.id}/domains`, {
    token: tenant.ownerCoreToken,
    body: { domain },
  });
  if (res.statusCode !== 201) throw new Error(`add domain: ${res.statusCode} ${res.body}`);
  return { ...tenant, domain };
}

/**
 * Tenants A and B, each holding an owner, a member, a pending invitation and a custom domain; C, deleted with its
 * domain (its slug then taken by D, which has no domain); and a deleted user of B. Every tenant database is a copy of
 * one template, so user ids coincide across tenants (owner 1, member 2):
 * an id that leaks across tenants names a real user on the other side.
 */
export async function buildWorld(
  app: FastifyInstance,
  kinds: Record<'a' | 'b' | 'c' | 'd', PlacementKind>,
): Promise<World> {
  const a = await withDomain(app, await tenant(app, 'a', 'tenant-a', kinds.a));
  const b = await withDomain(app, await tenant(app, 'b', 'tenant-b', kinds.b));
  const c = await withDomain(app, await tenant(app, 'c', 'tenant-c', kinds.c));
  const revoked = await invitation(app, b.slug, b.ownerToken, 'revoked-b@example.com');
  const withdrawn = await call(app, 'DELETE', `/api/invitations/${revoked.id}`, {
    tenant: b.slug,
    token: b.ownerToken,
  });
  if (withdrawn.statusCode !== 204) throw new Error(`revoke: ${withdrawn.statusCode} ${withdrawn.body}`);
  const bGone = {
    ...(await member(app, b.slug, 'gone-b@example.com')),
    invitationToken: revoked.token,
  };
  const removed = await call(app, 'DELETE', `/api/users/${bGone.id}`, {
    tenant: b.slug,
    token: b.ownerToken,
  });
  if (removed.statusCode !== 204) throw new Error(`delete user: ${removed.statusCode} ${removed.body}`);
  const dropped = await call(app, 'DELETE', `/api/organizations/${c.id}`, { token: c.ownerCoreToken });
  if (dropped.statusCode !== 204) throw new Error(`delete org: ${dropped.statusCode} ${dropped.body}`);
  const d = await tenant(app, 'd', 'tenant-c', kinds.d);
  return { a, b, c, d, bGone };
}
