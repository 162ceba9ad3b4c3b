import type { FastifyBaseLogger } from 'fastify';
import { sql, type Kysely } from 'kysely';
import type { AuditJson } from '../../db/audit-schema.js';
import type { CoreDatabase } from '../../db/core-schema.js';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import type { TenantContext } from '../../tenancy/routing/tenant-context.js';
import type { CoreAuditAction, TenantAuditAction } from './audit-actions.js';
import type { AuditDetail, AuditEventInput, AuditSource } from './audit-event.js';
import type { AuditEventsTableRepository, NewAuditEvent } from './audit-events-table.js';
import type { AuditPruner } from './audit-pruner.js';
import type { CoreAuditEventsRepository } from './core-audit-events.repository.js';
import type { TenantAuditEventsRepository } from './tenant-audit-events.repository.js';

/** A core event also names the core user it concerns (its only reader) and, if any, the organization. */
export interface CoreAuditEventInput extends AuditEventInput<CoreAuditAction> {
  /** The organization's owner for organization events; the account itself for account events. */
  ownerUserId: number | null;
  organizationId?: number | null;
}

/** Keys that could carry a secret; a detail never keeps them, whatever a caller passes. */
const SECRET_KEY = /pass|token|hash|secret|key|otp/i;

function withoutSecrets(detail: AuditDetail): AuditDetail {
  const clean = (value: AuditJson): AuditJson => {
    if (Array.isArray(value)) return value.map(clean);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !SECRET_KEY.test(key))
        .map(([key, nested]) => [key, clean(nested)]),
    );
  };
  return clean(detail) as AuditDetail;
}

/**
 * Records audit events. Pass the transaction of the change an event describes, so the event commits with it (a
 * process killed after the answer loses nothing); with no change to join (a failed login), pass the plain handle
 * and await the call before answering.
 *
 * Recording never fails the request it describes: inside a transaction the insert runs in a savepoint, so an
 * error (e.g. a tenant not migrated yet, whose table is missing) is rolled back alone and the change commits
 * without its event; every such failure is logged at error level with the event itself (minus nothing: details
 * hold no secrets), so the log is the record of last resort. No method of this class throws.
 *
 * @example
 * await tenant.db.transaction().execute(async (trx) => {
 *   await users.delete(trx, id);
 *   await audit.tenant(tenant, source, { action: 'user.deleted', target: { type: 'user', id } }, trx);
 * });
 */
export class AuditRecorder {
  constructor(
    private readonly deps: {
      core: Kysely<CoreDatabase>;
      log: FastifyBaseLogger;
      pruner?: AuditPruner;
      tenantEvents: TenantAuditEventsRepository;
      coreEvents: CoreAuditEventsRepository;
    },
  ) {}

  /** Records an event in a tenant's storage, through `db` (the change's transaction) or the tenant's handle. */
  async tenant(
    tenant: TenantContext,
    source: AuditSource,
    event: AuditEventInput<TenantAuditAction>,
    db: Kysely<TenantDatabase> = tenant.db,
  ): Promise<void> {
    const recorded = await this.write(this.deps.tenantEvents, db, this.row(source, event), {
      tenantId: tenant.id,
    });
    if (recorded) this.deps.pruner?.touch(tenant.id, tenant.db);
  }

  /** Records an event in the core database, through `db` (the change's transaction) or the core handle. */
  async core(
    source: AuditSource,
    event: CoreAuditEventInput,
    db: Kysely<CoreDatabase> = this.deps.core,
  ): Promise<void> {
    await this.write(
      this.deps.coreEvents,
      db,
      {
        ...this.row(source, event),
        owner_user_id: event.ownerUserId,
        organization_id: event.organizationId ?? null,
      },
      {},
    );
  }

  private row(source: AuditSource, event: AuditEventInput): NewAuditEvent {
    const actor = event.actor === undefined ? source.actor : event.actor;
    return {
      action: event.action,
      actor_plane: actor?.plane ?? null,
      actor_user_id: actor?.user_id ?? null,
      target_type: event.target?.type ?? null,
      target_id: event.target?.id ?? null,
      request_id: source.requestId,
      ip: source.ip,
      detail: JSON.stringify(withoutSecrets(event.detail ?? {})),
    };
  }

  /** Inserts the row, isolated in a savepoint inside a transaction; true when it was recorded. */
  private async write<DB>(
    events: AuditEventsTableRepository<DB>,
    db: Kysely<DB>,
    row: NewAuditEvent,
    context: { tenantId?: number },
  ): Promise<boolean> {
    try {
      if (!db.isTransaction) {
        await events.insert(db, row);
        return true;
      }
      await sql`savepoint tenantry_audit`.execute(db);
      try {
        await events.insert(db, row);
      } catch (error) {
        await sql`rollback to savepoint tenantry_audit`.execute(db);
        throw error;
      }
      await sql`release savepoint tenantry_audit`.execute(db);
      return true;
    } catch (error) {
      this.deps.log.error(
        { err: error, ...context, audit: { ...row, detail: row.detail } },
        'audit event not recorded',
      );
      return false;
    }
  }
}
