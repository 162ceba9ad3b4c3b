import type { TenantPlacement } from '../../src/tenancy/placement/placement.js';
import type { FastifyInstance } from 'fastify';

/** Everything a tenant database holds, in a comparable form. */
export interface TenantSnapshot {
  users: {
    id: number;
    email: string;
    role: string;
    is_active: boolean;
    password_hash: string | null;
    core_user_id: number | null;
    updated_at: string;
  }[];
  refreshTokens: {
    id: number;
    user_id: number;
    family_id: string;
    token_hash: string;
    used_at: string | null;
    revoked_at: string | null;
  }[];
  invitations: {
    id: number;
    email: string;
    role: string;
    status: string;
    token_hash: string;
    expires_at: string;
    accepted_user_id: number | null;
    revoked_at: string | null;
  }[];
}

const iso = (value: Date | null): string | null => (value === null ? null : value.toISOString());

/**
 * Reads a tenant's tables directly, on a connection of its own (not the app's connection manager, whose routing
 * and schema binding are part of what the suites test), as the login role, naming the tenant's schema explicitly
 * for a shared tenant. PGlite allows one open instance per directory, so the app's connections to the database
 * are closed for the read and allowed again after.
 */
export async function snapshotTenant(
  app: FastifyInstance,
  placement: TenantPlacement,
): Promise<TenantSnapshot> {
  const { connections, store } = app.services;
  const address = placement.address;
  await connections.closeTenant(address);
  try {
    const handle = await store.open(address.database, { maxConnections: 1 });
    try {
      const tables = placement.schema === null ? handle.db : handle.db.withSchema(placement.schema);
      const users = await tables.selectFrom('tenant_users').selectAll().orderBy('id').execute();
      const tokens = await tables.selectFrom('tenant_refresh_tokens').selectAll().orderBy('id').execute();
      const invitations = await tables.selectFrom('tenant_invitations').selectAll().orderBy('id').execute();
      return {
        users: users.map((u) => ({
          id: u.id,
          email: u.email,
          role: u.role,
          is_active: u.is_active,
          password_hash: u.password_hash,
          core_user_id: u.core_user_id,
          updated_at: iso(u.updated_at) as string,
        })),
        refreshTokens: tokens.map((t) => ({
          id: t.id,
          user_id: t.user_id,
          family_id: t.family_id,
          token_hash: t.token_hash,
          used_at: iso(t.used_at),
          revoked_at: iso(t.revoked_at),
        })),
        invitations: invitations.map((i) => ({
          id: i.id,
          email: i.email,
          role: i.role,
          status: i.status,
          token_hash: i.token_hash,
          expires_at: iso(i.expires_at) as string,
          accepted_user_id: i.accepted_user_id,
          revoked_at: iso(i.revoked_at),
        })),
      };
    } finally {
      await handle.close();
    }
  } finally {
    connections.reopen(address);
  }
}
