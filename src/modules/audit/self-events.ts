import type { CoreAuditAction, TenantAuditAction } from './audit-actions.js';
import type { AuditDetail, AuditEventInput } from './audit-event.js';
import type { CoreAuditEventInput } from './audit-recorder.js';

/** A core account's own act (registered, verified, logged in, changed its password): actor, target and owner. */
export function ownAccountEvent(
  action: CoreAuditAction,
  userId: number,
  detail?: AuditDetail,
): CoreAuditEventInput {
  return {
    action,
    actor: { plane: 'core', user_id: userId },
    target: { type: 'account', id: userId },
    ownerUserId: userId,
    ...(detail ? { detail } : {}),
  };
}

/** A tenant user's own act (logged in, logged out): actor and target. */
export function ownUserEvent(
  action: TenantAuditAction,
  userId: number,
  detail?: AuditDetail,
): AuditEventInput<TenantAuditAction> {
  return {
    action,
    actor: { plane: 'tenant', user_id: userId },
    target: { type: 'user', id: userId },
    ...(detail ? { detail } : {}),
  };
}
