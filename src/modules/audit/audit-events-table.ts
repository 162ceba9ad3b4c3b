import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { AuditEventsTable, CoreAuditEventsTable } from '../../db/audit-schema.js';
import { compileOnly } from '../../db/compile-only.js';
import { RowInserts } from '../../db/reusable-statements.js';

/** A tenant's table and the core's: the same columns; the core's adds organization and owner. */
interface AuditEventTables {
  audit_events: AuditEventsTable;
  core_audit_events: CoreAuditEventsTable;
}
const tables = compileOnly<AuditEventTables>();

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
 * The SQL of one plane's audit events, typed by the handle it runs on (`DB`): the tenants' `audit_events`
 * (TenantAuditEventsRepository) and the core's `core_audit_events` (CoreAuditEventsRepository) each fix their
 * table and database type, so neither can be handed the other plane's handle.
 */
export abstract class AuditEventsTableRepository<DB> {
  /** One per login and per change: compiled once per column list, prepared on a dedicated tenant's connections. */
  private readonly inserts: RowInserts<NewAuditEvent>;

  protected constructor(private readonly table: keyof AuditEventTables) {
    this.inserts = new RowInserts((row) => tables.insertInto(table).values(row).compile());
  }

  async insert(db: Kysely<DB>, values: NewAuditEvent): Promise<void> {
    await db.executeQuery(this.inserts.query(values));
  }

  /** A page of events, newest first. */
  async list(db: Kysely<DB>, filter: AuditEventFilter): Promise<AuditEventRow[]> {
    let query = tables.selectFrom(this.table).selectAll().where('at', '>=', filter.notBefore);
    if (filter.beforeId > 0) query = query.where('id', '<', filter.beforeId);
    if (filter.ownerUserId !== undefined) query = query.where('owner_user_id', '=', filter.ownerUserId);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.actorId !== undefined) query = query.where('actor_user_id', '=', filter.actorId);
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('at', '<', filter.until);
    return (await db.executeQuery(query.orderBy('id', 'desc').limit(filter.limit).compile())).rows;
  }

  /**
   * Deletes up to `batch` events older than `cutoff`, oldest first; returns how many. Small batches keep each
   * statement short, so pruning never holds a tenant's table for long.
   */
  async prune(db: Kysely<DB>, cutoff: Date, batch: number): Promise<number> {
    const table = sql.table(this.table);
    const result = await sql`delete from ${table} where id in (
        select id from ${table} where at < ${cutoff} order by id limit ${batch})`.execute(db);
    return Number(result.numAffectedRows ?? 0n);
  }
}
