import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { CoreDatabase } from '../../db/core-schema.js';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import type { AuditEventsTableRepository } from './audit-events-table.js';
import type { CoreAuditEventsRepository } from './core-audit-events.repository.js';
import type { TenantAuditEventsRepository } from './tenant-audit-events.repository.js';

const DAY_MS = 86_400_000;
/** Rows per DELETE statement, and statements per pass: a pass is bounded, the next one goes on. */
const BATCH = 1_000;
const MAX_BATCHES = 20;
/** How often the core table is pruned, and how often at most one tenant's is. */
const CORE_INTERVAL_MS = 3_600_000;
const TENANT_INTERVAL_MS = 6 * 3_600_000;
/** Tenants whose last pruning this process remembers (beyond it, a tenant is simply pruned again sooner). */
const REMEMBERED_TENANTS = 10_000;

export interface AuditPrunerOptions {
  core: Kysely<CoreDatabase>;
  /** AUDIT_RETENTION_DAYS. */
  retentionDays: number;
  log: FastifyBaseLogger;
  tenantEvents: TenantAuditEventsRepository;
  coreEvents: CoreAuditEventsRepository;
}

/**
 * Removes audit events older than AUDIT_RETENTION_DAYS.
 *
 * The core table is pruned by a timer (at start, then hourly). Tenants are many, and most are idle: sweeping
 * them all would open every tenant's storage (on the embedded engine, a database instance each) just to find
 * nothing to delete. So a tenant is pruned lazily: when an event is recorded in it, at most once per six hours
 * per process, after the request, on the connection budget like any query. A tenant that records nothing
 * grows nothing; and reads never show an event past the retention, pruned or not (see AuditService).
 *
 * @example
 * const pruner = new AuditPruner({ core: core.db, retentionDays: 365, log, tenantEvents, coreEvents });
 * pruner.start();
 * pruner.touch(tenant.id, tenant.db); // after recording an event in that tenant
 */
export class AuditPruner {
  private readonly lastPruned = new LRUCache<number, number>({ max: REMEMBERED_TENANTS });
  private readonly running = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: AuditPrunerOptions) {}

  /** The oldest time still kept. */
  cutoff(now: number = Date.now()): Date {
    return new Date(now - this.options.retentionDays * DAY_MS);
  }

  /** Prunes one tenant's events now; returns how many were removed. */
  pruneTenant(db: Kysely<TenantDatabase>): Promise<number> {
    return this.pruneAll(this.options.tenantEvents, db);
  }

  /** Prunes the core's events now; returns how many were removed. */
  pruneCore(): Promise<number> {
    return this.pruneAll(this.options.coreEvents, this.options.core);
  }

  private async pruneAll<DB>(events: AuditEventsTableRepository<DB>, db: Kysely<DB>): Promise<number> {
    const cutoff = this.cutoff();
    let removed = 0;
    for (let round = 0; round < MAX_BATCHES; round++) {
      const count = await events.prune(db, cutoff, BATCH);
      removed += count;
      if (count < BATCH) break;
    }
    return removed;
  }

  /**
   * Called after an event was recorded in a tenant: prunes that tenant in the background when this process has
   * not done so for a while. Never throws; a failure is logged and retried at a later touch.
   */
  touch(tenantId: number, db: Kysely<TenantDatabase>): void {
    const now = Date.now();
    const last = this.lastPruned.get(tenantId);
    if (last !== undefined && now - last < TENANT_INTERVAL_MS) return;
    this.lastPruned.set(tenantId, now);
    this.track(
      this.pruneTenant(db).then(
        (removed) => {
          if (removed > 0) this.options.log.info({ tenantId, removed }, 'pruned old audit events');
        },
        (error: unknown) => {
          this.lastPruned.delete(tenantId);
          this.options.log.warn({ err: error, tenantId }, 'pruning audit events failed');
        },
      ),
    );
  }

  /** Starts pruning the core table: now, then hourly. */
  start(): void {
    const run = () =>
      this.track(
        this.pruneCore().then(
          (removed) => {
            if (removed > 0) this.options.log.info({ removed }, 'pruned old core audit events');
          },
          (error: unknown) => this.options.log.warn({ err: error }, 'pruning core audit events failed'),
        ),
      );
    run();
    this.timer = setInterval(run, CORE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Waits for the pruning passes in flight (tests, and closing before the connections go). */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.settle();
  }

  private track(work: Promise<unknown>): void {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }
}
