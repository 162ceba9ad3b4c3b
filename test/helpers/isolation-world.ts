import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { call, ownerWithOrganization, type Tokens } from './flows.js';

/** A tenant of the isolation world, with the secrets an attacker from elsewhere must not be able to use. */
export interface WorldTenant {
  id: number;
  slug: string;
  dbName: string;
  ownerEmail: string;
  ownerCoreToken: string;
  ownerUserId: number;
  ownerToken: string;
  member: { id: number; email: string; password: string; tokens: Tokens };
}

export interface World {
  a: WorldTenant;
  b: WorldTenant;
  /** Deleted organization: its id answers 404; its tokens are dead. */
  c: WorldTenant;
  /** A live organization that took over C's slug after C was deleted. */
  d: WorldTenant;
  /** A user of B who was deleted, with the tokens it held. */
  bGone: { id: number; email: string; password: string; tokens: Tokens };
}

const PASSWORD = 'member password 1';

export async function member(app: FastifyInstance, tenant: string, email: string) {
  const reg = await call(app, 'POST', '/api/auth/register', { tenant, body: { email, password: PASSWORD } });
  if (reg.statusCode !== 201) throw new Error(`register ${email}: ${reg.statusCode} ${reg.body}`);
  const login = await call(app, 'POST', '/api/auth/login', { tenant, body: { email, password: PASSWORD } });
  if (login.statusCode !== 200) throw new Error(`login ${email}: ${login.statusCode} ${login.body}`);
  return { id: reg.json<{ id: number }>().id, email, password: PASSWORD, tokens: login.json<Tokens>() };
}

async function tenant(app: FastifyInstance, key: string, slug: string): Promise<WorldTenant> {
  const ownerEmail = `owner-${key}@example.com`;
  const { owner, org, tenantTokens } = await ownerWithOrganization(app, ownerEmail, `Tenant ${key}`, slug);
  return {
    id: org.id,
    slug: org.slug,
    dbName: org.tenant_db_name,
    ownerEmail,
    ownerCoreToken: owner.tokens.access_token,
    ownerUserId: Number(decodeJwt(tenantTokens.access_token).sub),
    ownerToken: tenantTokens.access_token,
    member: await member(app, org.slug, `member-${key}@example.com`),
  };
}

/**
 * Tenants A and B, each holding an owner and a member; C, deleted (its slug then taken by D); and a deleted user
 * of B. Every tenant database is a copy of one template, so user ids coincide across tenants (owner 1, member 2):
 * an id that leaks across tenants names a real user on the other side.
 */
export async function buildWorld(app: FastifyInstance): Promise<World> {
  const a = await tenant(app, 'a', 'tenant-a');
  const b = await tenant(app, 'b', 'tenant-b');
  const c = await tenant(app, 'c', 'tenant-c');
  const bGone = await member(app, b.slug, 'gone-b@example.com');
  const removed = await call(app, 'DELETE', `/api/users/${bGone.id}`, {
    tenant: b.slug,
    token: b.ownerToken,
  });
  if (removed.statusCode !== 204) throw new Error(`delete user: ${removed.statusCode} ${removed.body}`);
  const dropped = await call(app, 'DELETE', `/api/organizations/${c.id}`, { token: c.ownerCoreToken });
  if (dropped.statusCode !== 204) throw new Error(`delete org: ${dropped.statusCode} ${dropped.body}`);
  const d = await tenant(app, 'd', 'tenant-c');
  return { a, b, c, d, bGone };
}
