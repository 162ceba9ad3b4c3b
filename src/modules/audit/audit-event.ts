import type { Selectable } from 'kysely';
import type { AuditEventsTable, AuditJson } from '../../db/audit-schema.js';
import type { AuditAction, AuditPlane } from './audit-actions.js';

/** Who did it: a user of the core or of the tenant. Null for the system or an operator at the CLI. */
export interface AuditActor {
  plane: AuditPlane;
  user_id: number;
}

/** What it was done to. */
export interface AuditTarget {
  type: 'user' | 'account' | 'organization' | 'invitation';
  id: number;
}

/**
 * A small JSON object describing the event. It never holds a secret: no password, token or hash (keys that look
 * like one are dropped by the recorder, see audit-recorder.ts).
 */
export type AuditDetail = { [key: string]: AuditJson };

/** Where a request came from: what every event of that request carries. */
export interface AuditSource {
  /** The authenticated (or, for logins, the identified) user; null when nobody is. */
  actor: AuditActor | null;
  requestId: string | null;
  ip: string | null;
}

/** A source for work that no request started (an operator at the CLI, a background job). */
export const SYSTEM_SOURCE: AuditSource = { actor: null, requestId: null, ip: null };

/** One event to record; `actor` overrides the source's (e.g. a login, whose caller was anonymous). */
export interface AuditEventInput<A extends AuditAction = AuditAction> {
  action: A;
  actor?: AuditActor | null;
  target: AuditTarget | null;
  detail?: AuditDetail;
}

/** The public shape of an event (API.md: AuditEvent). */
export interface AuditEventView {
  id: number;
  at: string;
  action: string;
  actor: { plane: AuditPlane; user_id: number } | null;
  target: { type: string; id: number } | null;
  request_id: string | null;
  ip: string | null;
  detail: AuditDetail;
}

export function toAuditEventView(row: Selectable<AuditEventsTable>): AuditEventView {
  return {
    id: row.id,
    at: row.at.toISOString(),
    action: row.action,
    actor:
      row.actor_plane !== null && row.actor_user_id !== null
        ? { plane: row.actor_plane, user_id: row.actor_user_id }
        : null,
    target:
      row.target_type !== null && row.target_id !== null
        ? { type: row.target_type, id: row.target_id }
        : null,
    request_id: row.request_id,
    ip: row.ip,
    detail: row.detail,
  };
}
