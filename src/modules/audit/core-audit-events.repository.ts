import type { CoreDatabase } from '../../db/core-schema.js';
import { AuditEventsTableRepository } from './audit-events-table.js';

/**
 * The core's `core_audit_events`: the only place that writes SQL for them (shared with the tenants' table).
 *
 * @example
 * await new CoreAuditEventsRepository().list(core.db, { limit: 21, beforeId: 0, notBefore, ownerUserId });
 */
export class CoreAuditEventsRepository extends AuditEventsTableRepository<CoreDatabase> {
  constructor() {
    super('core_audit_events');
  }
}
