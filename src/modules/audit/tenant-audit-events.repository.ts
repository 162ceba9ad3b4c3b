import type { TenantDatabase } from '../../db/tenant-schema.js';
import { AuditEventsTableRepository } from './audit-events-table.js';

/**
 * A tenant's `audit_events`: the only place that writes SQL for them (shared with the core's table).
 *
 * @example
 * await new TenantAuditEventsRepository().insert(trx, { action: 'user.deleted', detail: '{}' });
 */
export class TenantAuditEventsRepository extends AuditEventsTableRepository<TenantDatabase> {
  constructor() {
    super('audit_events');
  }
}
