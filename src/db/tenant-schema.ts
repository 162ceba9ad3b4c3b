import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { AuditEventsTable } from './audit-schema.js';
import type { RefreshTokensTable } from './core-schema.js';

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type Timestamp = ColumnType<Date, Date | undefined, Date>;

/** A tenant user's role inside its organization. */
export type TenantRole = 'owner' | 'admin' | 'member';

export interface TenantUsersTable {
  id: Generated<number>;
  /** Stored lower-case (a check constraint enforces it); unique within the tenant only. */
  email: string;
  /** Null for users who cannot log in with a password, e.g. the owner linked to a core user. */
  password_hash: string | null;
  role: Generated<TenantRole>;
  is_active: Generated<boolean>;
  /** The core user this tenant user stands for (the organization's owner), if any. */
  core_user_id: number | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

/** What became of an invitation, as stored; `expired` is derived (pending past `expires_at`), never stored. */
export type InvitationState = 'pending' | 'accepted' | 'revoked';

export interface TenantInvitationsTable {
  id: Generated<number>;
  /** Stored lower-case (a check constraint enforces it); at most one pending invitation per email. */
  email: string;
  /** The role the invitee gets on accepting. */
  role: TenantRole;
  status: Generated<InvitationState>;
  /** SHA-256 of the emailed token (never the token); a resend replaces it. */
  token_hash: string;
  /** The tenant user who sent it; null once that user is deleted. */
  invited_by: number | null;
  expires_at: Timestamp;
  accepted_at: Date | null;
  accepted_user_id: number | null;
  revoked_at: Date | null;
  created_at: CreatedAt;
}

/** Same shape as the core's refresh tokens, so one implementation (src/modules/shared/refresh-tokens-table.ts) serves both through a repository each. */
export type TenantRefreshTokensTable = RefreshTokensTable;

/** One tenant (data-plane) database, as Kysely sees it. Every tenant database has this same schema. */
export interface TenantDatabase {
  tenant_users: TenantUsersTable;
  tenant_refresh_tokens: TenantRefreshTokensTable;
  tenant_invitations: TenantInvitationsTable;
  audit_events: AuditEventsTable;
}

export type TenantUser = Selectable<TenantUsersTable>;
/** What a request knows of its authenticated tenant user: the columns every request re-reads, nothing secret. */
export type TenantPrincipal = Pick<TenantUser, 'id' | 'email' | 'role' | 'is_active' | 'created_at'>;
export type NewTenantUser = Insertable<TenantUsersTable>;
export type TenantUserUpdate = Updateable<TenantUsersTable>;
export type TenantRefreshToken = Selectable<TenantRefreshTokensTable>;
export type NewTenantRefreshToken = Insertable<TenantRefreshTokensTable>;
export type TenantRefreshTokenUpdate = Updateable<TenantRefreshTokensTable>;
export type TenantInvitation = Selectable<TenantInvitationsTable>;
