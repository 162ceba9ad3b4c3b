import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { CoreAuditEventsTable } from './audit-schema.js';

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type Timestamp = ColumnType<Date, Date | undefined, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;

/** How a tenant is stored: a database of its own, or a schema of a shared database (see tenancy/placement). */
export type PlacementKind = 'dedicated' | 'shared';

export type OrganizationStatus = 'provisioning' | 'active' | 'suspended' | 'deleting' | 'failed' | 'deleted';

export interface CoreUsersTable {
  id: Generated<number>;
  email: string;
  password_hash: string;
  is_owner: Generated<boolean>;
  is_verified: Generated<boolean>;
  is_active: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface OrganizationsTable {
  id: Generated<number>;
  name: string;
  slug: string;
  status: Generated<OrganizationStatus>;
  owner_id: number;
  allow_signup: Generated<boolean>;
  /** Name of the tenant database (PostgreSQL) or data directory (PGlite); set once provisioning starts. */
  tenant_db_name: string | null;
  /** The server the tenant database is on: `pglite` or `postgres://host:port` (see tenancy/placement). */
  placement: string | null;
  /** `dedicated` (a database of its own) or `shared` (a schema of a shared database). */
  placement_kind: ColumnType<PlacementKind, PlacementKind | undefined, PlacementKind>;
  /** The tenant's schema in a shared database; null for a dedicated one. */
  tenant_schema: string | null;
  /** Last provisioning step completed, so a crashed provisioning can be finished or rolled back. */
  provisioning_step: string | null;
  provisioning_error: string | null;
  /** Name of the latest tenant migration applied to this tenant's database. */
  schema_version: string | null;
  migration_state: 'ok' | 'failed' | null;
  migration_error: string | null;
  migrated_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
  /** Last step of a move in progress (tenancy/lifecycle/tenant-mover.ts); null when none is. */
  move_step: MoveStep | null;
  /** The copy of a moving tenant that is not live: the target before the switch, the old copy after it. */
  move_placement_kind: PlacementKind | null;
  move_server: string | null;
  move_db_name: string | null;
  move_schema: string | null;
}

/** Steps of a tenant move, in order, as recorded in organizations.move_step once done. */
export type MoveStep = 'frozen' | 'sealed' | 'copied' | 'switched';

export interface RefreshTokensTable {
  id: Generated<number>;
  user_id: number;
  /** All tokens rotated from one login share a family; reuse of a used token revokes the family. */
  family_id: string;
  token_hash: string;
  expires_at: Date;
  used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_at: CreatedAt;
}

export type EmailTokenPurpose = 'verify' | 'reset';

export interface EmailTokensTable {
  id: Generated<number>;
  user_id: number;
  purpose: EmailTokenPurpose;
  token_hash: string;
  expires_at: Date;
  used_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface MailOutboxTable {
  id: Generated<number>;
  to_address: string;
  subject: string;
  text_body: string;
  html_body: string | null;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  sent_at: NullableTimestamp;
  last_error: string | null;
  created_at: CreatedAt;
}

/** A verification or reset email asked for by address, not yet looked up (see src/modules/accounts/account-mail-requests.repository.ts). */
export interface AccountMailRequestsTable {
  id: Generated<number>;
  kind: EmailTokenPurpose;
  email: string;
  created_at: CreatedAt;
}

/** A custom domain of an organization (stored lower-case; one organization at most). */
export interface OrganizationDomainsTable {
  domain: string;
  organization_id: number;
  created_at: CreatedAt;
}

/** Whether a tenant server takes new tenants (`draining`: it keeps its tenants but gets no new one). */
export type TenantServerState = 'active' | 'draining';

/** A registered tenant server (tenancy/servers). `url` holds credentials: never print it. */
export interface TenantServersTable {
  name: string;
  /** Null only for `default`: the configured server (TENANT_DATABASE_URL, the core's, or the embedded engine). */
  url: string | null;
  weight: ColumnType<number, number | undefined, number>;
  state: ColumnType<TenantServerState, TenantServerState | undefined, TenantServerState>;
  created_at: CreatedAt;
}

/** The core (control-plane) database, as Kysely sees it. */
export interface CoreDatabase {
  core_users: CoreUsersTable;
  organizations: OrganizationsTable;
  refresh_tokens: RefreshTokensTable;
  email_tokens: EmailTokensTable;
  mail_outbox: MailOutboxTable;
  account_mail_requests: AccountMailRequestsTable;
  organization_domains: OrganizationDomainsTable;
  core_audit_events: CoreAuditEventsTable;
  tenant_servers: TenantServersTable;
}

export type CoreUser = Selectable<CoreUsersTable>;
export type NewCoreUser = Insertable<CoreUsersTable>;
export type CoreUserUpdate = Updateable<CoreUsersTable>;
export type Organization = Selectable<OrganizationsTable>;
export type NewOrganization = Insertable<OrganizationsTable>;
export type OrganizationUpdate = Updateable<OrganizationsTable>;
export type OrganizationDomain = Selectable<OrganizationDomainsTable>;
