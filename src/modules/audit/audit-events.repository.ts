import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { CoreAuditEventsTable } from '../../db/audit-schema.js';

/** A tenant's table, or the core's. Both have the same columns; the core's adds organization and owner. */
export type AuditTableName = 'audit_events' | 'core_audit_events';

type AuditDb = Kysely<{ audit_events: CoreAuditEventsTable }>;
type AnyDb<DB> = Kysely<DB> | Transaction<DB>;

export type AuditEventRow = Selectable<CoreAuditEventsTable>;
export type NewAuditEvent = Insertable<CoreAuditEventsTable>;

/** What a page of events is filtered by; every bound is optional except the retention floor. */
export interface AuditEventFilter {
  /** Rows to fetch (the page size plus one, to know whether there is a next page). */
  limit: number;
  /** Only events with a smaller id (0: from the newest). */
  beforeId: number;
  action?: string;
  actorId?: number;
  since?: Date;
  until?: Date;
  /** Events older than the retention are never shown, even before the pruner removed them. */
  notBefore: Date;
  /** Core only: the core user the events concern. */
  ownerUserId?: number;
}

/**
 * Audit events of one storage: the only place that writes SQL for them. One implementation serves the tenants'
 * `audit_events` and the core's `core_audit_events` (as RefreshTokens does for its two tables).
 *
 * @example
 * const events = new AuditEventsRepository('audit_events');
 * await events.insert(trx, { action: 'user.deleted', detail: '{}' });
 */
export class AuditEventsRepository {
  constructor(private readonly table: AuditTableName) {}

  private handle<DB>(db: AnyDb<DB>): AuditDb {
    return db as unknown as AuditDb;
  }

  private get name(): 'audit_events' {
    // Both tables share their columns; Kysely only needs a name it knows the type of.
    return this.table as 'audit_events';
  }

  async insert<DB>(db: AnyDb<DB>, values: NewAuditEvent): Promise<void> {
    await this.handle(db).insertInto(this.name).values(values).execute();
  }

  /** A page of events, newest first. */
  list<DB>(db: AnyDb<DB>, filter: AuditEventFilter): Promise<AuditEventRow[]> {
    let query = this.handle(db).selectFrom(this.name).selectAll().where('at', '>=', filter.notBefore);
    if (filter.beforeId > 0) query = query.where('id', '<', filter.beforeId);
    if (filter.ownerUserId !== undefined) query = query.where('owner_user_id', '=', filter.ownerUserId);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.actorId !== undefined) query = query.where('actor_user_id', '=', filter.actorId);
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('at', '<', filter.until);
    return query.orderBy('id', 'desc').limit(filter.limit).execute();
  }

  /**
   * Deletes up to `batch` events older than `cutoff`, oldest first; returns how many. Small batches keep each
   * statement short, so pruning never holds a tenant's table for long.
   */
  async prune<DB>(db: AnyDb<DB>, cutoff: Date, batch: number): Promise<number> {
    const table = sql.table(this.table);
    const result = await sql`delete from ${table} where id in (
        select id from ${table} where at < ${cutoff} order by id limit ${batch})`.execute(this.handle(db));
    return Number(result.numAffectedRows ?? 0n);
  }
}
