import type { Kysely } from 'kysely';
import type { CoreDatabase } from '../../db/core-schema.js';
import { AppError } from '../../errors.js';
import { decodeCursor, toPage } from '../shared/pagination.js';
import type { TenantContext } from '../../tenancy/routing/tenant-context.js';
import { planeOf, type AuditAction, type AuditPlane } from './audit-actions.js';
import { toAuditEventView } from './audit-event.js';
import type { AuditEventFilter } from './audit-events-table.js';
import type { AuditPruner } from './audit-pruner.js';
import type { CoreAuditEventsRepository } from './core-audit-events.repository.js';
import type { TenantAuditEventsRepository } from './tenant-audit-events.repository.js';

/** GET /api/audit-events, as the route validated it (the action is one of AUDIT_ACTIONS). */
export interface AuditEventQuery {
  limit?: number;
  cursor?: string;
  action?: AuditAction;
  actor_id?: number;
  since?: string;
  until?: string;
}

function invalid(path: string, message: string): AppError {
  return new AppError('VALIDATION_ERROR', `Invalid querystring: ${path} ${message}`, {
    errors: [{ path, message }],
  });
}

function usable(date: Date): boolean {
  const year = date.getUTCFullYear();
  return !Number.isNaN(date.getTime()) && year >= 1 && year <= 9999;
}

/** Reading the audit log: a tenant's events for its owners and admins, a core user's own core events. */
export class AuditService {
  constructor(
    private readonly core: Kysely<CoreDatabase>,
    private readonly pruner: AuditPruner,
    private readonly tenantEvents: TenantAuditEventsRepository,
    private readonly coreEvents: CoreAuditEventsRepository,
  ) {}

  /** Every event of the tenant, newest first (the caller's role was checked by the route's guard). */
  async listTenant(tenant: TenantContext, query: AuditEventQuery) {
    const limit = query.limit ?? 20;
    const rows = await this.tenantEvents.list(tenant.db, this.filter('tenant', query, limit));
    return toPage(rows, limit, toAuditEventView);
  }

  /** The core events that concern this core user: their organizations' and their own account's. */
  async listCore(userId: number, query: AuditEventQuery) {
    const limit = query.limit ?? 20;
    const rows = await this.coreEvents.list(this.core, {
      ...this.filter('core', query, limit),
      ownerUserId: userId,
    });
    return toPage(rows, limit, toAuditEventView);
  }

  private filter(plane: AuditPlane, query: AuditEventQuery, limit: number): AuditEventFilter {
    if (query.action !== undefined && planeOf(query.action) !== plane)
      throw invalid('/action', `is not recorded in the ${plane} context`);
    const since = query.since === undefined ? undefined : new Date(query.since);
    const until = query.until === undefined ? undefined : new Date(query.until);
    // The schema checked the format; years PostgreSQL cannot take (0000) are refused here, not by the database.
    if (since && !usable(since)) throw invalid('/since', 'is not a date-time between the years 1 and 9999');
    if (until && !usable(until)) throw invalid('/until', 'is not a date-time between the years 1 and 9999');
    if (since && until && since > until) throw invalid('/until', 'must not be before since');
    return {
      limit: limit + 1,
      beforeId: decodeCursor(query.cursor),
      notBefore: this.pruner.cutoff(),
      ...(query.action === undefined ? {} : { action: query.action }),
      ...(query.actor_id === undefined ? {} : { actorId: query.actor_id }),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
    };
  }
}
