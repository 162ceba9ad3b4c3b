import type { ColumnType, Generated } from 'kysely';

/** JSON as stored in an audit event's `detail` (jsonb). */
export type AuditJson = string | number | boolean | null | AuditJson[] | { [key: string]: AuditJson };

/** A tenant's `audit_events` table; the core's `core_audit_events` adds two columns (see below). */
export interface AuditEventsTable {
  id: Generated<number>;
  at: ColumnType<Date, Date | undefined, never>;
  action: string;
  actor_plane: 'core' | 'tenant' | null;
  actor_user_id: number | null;
  target_type: string | null;
  target_id: number | null;
  request_id: string | null;
  ip: string | null;
  detail: ColumnType<{ [key: string]: AuditJson }, string, never>;
}

export interface CoreAuditEventsTable extends AuditEventsTable {
  /** The organization the event concerns, if any. */
  organization_id: number | null;
  /** The core user the event concerns (the organization's owner, or the account itself): its only reader. */
  owner_user_id: number | null;
}
