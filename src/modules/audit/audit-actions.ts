/**
 * Every action the audit log knows, by plane (API.md, "Audit log"). A tenant's storage records the tenant
 * actions, the core database the core ones; the names are part of the HTTP contract.
 */
export const TENANT_AUDIT_ACTIONS = [
  'auth.login.succeeded',
  'auth.login.failed',
  'auth.logout',
  'auth.refresh.reuse_detected',
  'user.password.changed',
  'user.password.reset',
  'user.role.changed',
  'user.status.changed',
  'user.deleted',
  'invitation.sent',
  'invitation.accepted',
  'invitation.revoked',
  'owner.token_exchanged',
] as const;

export const CORE_AUDIT_ACTIONS = [
  'organization.created',
  'organization.updated',
  'organization.suspended',
  'organization.resumed',
  'organization.deleted',
  'organization.moved',
  'organization.domain.added',
  'organization.domain.removed',
  'account.registered',
  'account.verified',
  'account.login.succeeded',
  'account.login.failed',
  'account.password.changed',
] as const;

export type TenantAuditAction = (typeof TENANT_AUDIT_ACTIONS)[number];
export type CoreAuditAction = (typeof CORE_AUDIT_ACTIONS)[number];
export type AuditAction = TenantAuditAction | CoreAuditAction;

/** Which storage records an action: a tenant's, or the core's. */
export type AuditPlane = 'core' | 'tenant';

export const AUDIT_ACTIONS: readonly AuditAction[] = [...TENANT_AUDIT_ACTIONS, ...CORE_AUDIT_ACTIONS];

const TENANT_SET: ReadonlySet<string> = new Set(TENANT_AUDIT_ACTIONS);

/** The plane an action is recorded in. */
export function planeOf(action: AuditAction): AuditPlane {
  return TENANT_SET.has(action) ? 'tenant' : 'core';
}
