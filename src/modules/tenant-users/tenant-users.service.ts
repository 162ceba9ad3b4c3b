import { hashPassword, verifyPassword } from '../../auth/passwords.js';
import type { RefreshTokenFamilies } from '../shared/refresh-token-families.js';
import type { TenantDatabase, TenantPrincipal, TenantRole, TenantUser } from '../../db/tenant-schema.js';
import { AppError } from '../../errors.js';
import { decodeCursor, toPage } from '../shared/pagination.js';
import type { TenantContext } from '../../tenancy/routing/tenant-context.js';
import type { TenantUsersRepository } from './tenant-users.repository.js';
import { toTenantUserView } from './tenant-user-view.js';
import type { AuditSource } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';

/**
 * The tenant user linked to the organization's core owner. It is how the owner enters the tenant (the token
 * exchange looks it up by core user), so nobody inside the tenant may delete, demote or deactivate it: that
 * would lock the owner out of their own organization.
 */
function isLinkedOwner(tenant: TenantContext, user: TenantUser): boolean {
  return user.core_user_id !== null && user.core_user_id === tenant.ownerId;
}

/** Self-service and administration of the users of one tenant. */
export class TenantUsersService {
  constructor(
    private readonly users: TenantUsersRepository,
    private readonly refreshTokens: RefreshTokenFamilies<TenantDatabase>,
    private readonly audit: AuditRecorder,
  ) {}

  /** Changes one's own email and/or password; a password change needs the current password when one is set. */
  async updateSelf(
    tenant: TenantContext,
    principal: TenantPrincipal,
    input: { email?: string; password?: string; current_password?: string },
    source: AuditSource,
  ) {
    // The request carries only the principal's public columns; the password hash is read when it is needed.
    const user = await this.users.findById(tenant.db, principal.id);
    if (!user?.is_active) throw new AppError('TOKEN_INVALID');
    const changes: { email?: string; password_hash?: string } = {};
    if (input.email !== undefined && input.email !== user.email) changes.email = input.email;
    if (input.password !== undefined) {
      if (user.password_hash !== null) {
        if (input.current_password === undefined) {
          throw new AppError('VALIDATION_ERROR', 'current_password is required to change the password', {
            errors: [{ path: '/current_password', message: 'is required to change the password' }],
          });
        }
        if (!(await verifyPassword(user.password_hash, input.current_password)))
          throw new AppError('INVALID_CREDENTIALS');
      }
      changes.password_hash = await hashPassword(input.password);
    }
    if (Object.keys(changes).length === 0) return toTenantUserView(user);
    const updated = await tenant.db.transaction().execute(async (trx) => {
      const row = await this.users.update(trx, user.id, changes);
      if (changes.password_hash) {
        await this.refreshTokens.revokeAllForUser(trx, user.id);
        await this.audit.tenant(
          tenant,
          source,
          { action: 'user.password.changed', target: { type: 'user', id: user.id } },
          trx,
        );
      }
      return row;
    });
    return toTenantUserView(updated);
  }

  async list(tenant: TenantContext, query: { limit?: number; cursor?: string; q?: string }) {
    const limit = query.limit ?? 20;
    const rows = await this.users.list(tenant.db, {
      limit: limit + 1,
      afterId: decodeCursor(query.cursor),
      ...(query.q ? { q: query.q } : {}),
    });
    return toPage(rows, limit, toTenantUserView);
  }

  async get(tenant: TenantContext, id: number) {
    const user = await this.users.findById(tenant.db, id);
    if (!user) throw new AppError('NOT_FOUND', 'User not found');
    return toTenantUserView(user);
  }

  /**
   * Changes a user's role or active flag. Only an owner may grant, revoke or touch the owner role (403 first:
   * permission comes before protection); the organization's linked owner (409 OWNER_PROTECTED) and the last
   * active owner (409 LAST_OWNER) can be neither demoted nor deactivated. Deactivation ends the user's sessions.
   */
  async administer(
    tenant: TenantContext,
    actor: TenantPrincipal,
    id: number,
    input: { role?: TenantRole; is_active?: boolean },
    source: AuditSource,
  ) {
    const updated = await tenant.db.transaction().execute(async (trx) => {
      const owners = await this.users.lockActiveOwners(trx);
      const target = await this.users.findById(trx, id);
      if (!target) throw new AppError('NOT_FOUND', 'User not found');
      const touchesOwner = target.role === 'owner' || input.role === 'owner';
      if (touchesOwner && actor.role !== 'owner')
        throw new AppError('FORBIDDEN', 'Only an owner can change an owner');
      const demotes = input.role !== undefined && input.role !== 'owner';
      if (isLinkedOwner(tenant, target) && (demotes || input.is_active === false))
        throw new AppError('OWNER_PROTECTED');
      const losesOwner =
        target.role === 'owner' && target.is_active && (demotes || input.is_active === false);
      if (losesOwner && owners.length <= 1) throw new AppError('LAST_OWNER');
      const row = await this.users.update(trx, id, input);
      if (input.is_active === false) await this.refreshTokens.revokeAllForUser(trx, id);
      const subject = { type: 'user', id } as const;
      if (input.role !== undefined && input.role !== target.role) {
        const detail = { from: target.role, to: input.role };
        await this.audit.tenant(
          tenant,
          source,
          { action: 'user.role.changed', target: subject, detail },
          trx,
        );
      }
      if (input.is_active !== undefined && input.is_active !== target.is_active) {
        const detail = { is_active: input.is_active };
        await this.audit.tenant(
          tenant,
          source,
          { action: 'user.status.changed', target: subject, detail },
          trx,
        );
      }
      return row;
    });
    return toTenantUserView(updated);
  }

  async remove(
    tenant: TenantContext,
    actor: TenantPrincipal,
    id: number,
    source: AuditSource,
  ): Promise<void> {
    await tenant.db.transaction().execute(async (trx) => {
      const owners = await this.users.lockActiveOwners(trx);
      const target = await this.users.findById(trx, id);
      if (!target) throw new AppError('NOT_FOUND', 'User not found');
      if (target.role === 'owner' && actor.role !== 'owner')
        throw new AppError('FORBIDDEN', 'Only an owner can remove an owner');
      if (isLinkedOwner(tenant, target)) throw new AppError('OWNER_PROTECTED');
      if (target.role === 'owner' && target.is_active && owners.length <= 1) throw new AppError('LAST_OWNER');
      // Refresh tokens go with the user (foreign key ON DELETE CASCADE).
      await this.users.delete(trx, id);
      await this.audit.tenant(
        tenant,
        source,
        {
          action: 'user.deleted',
          target: { type: 'user', id },
          detail: { email: target.email, role: target.role },
        },
        trx,
      );
    });
  }
}
