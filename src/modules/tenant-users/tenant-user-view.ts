import type { TenantPrincipal } from '../../db/tenant-schema.js';

/** The public shape of a tenant user: never a hash, never the core link. */
export function toTenantUserView(user: TenantPrincipal) {
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    is_active: user.is_active,
    created_at: user.created_at.toISOString(),
  };
}
