import type { AccessTokens } from '../../auth/access-tokens.js';
import { hashPassword, verifyPassword } from '../../auth/passwords.js';
import type { RefreshTokenFamilies } from '../shared/refresh-token-families.js';
import type { Kysely } from 'kysely';
import type { TenantDatabase, TenantPrincipal, TenantUser } from '../../db/tenant-schema.js';
import { AppError, type ErrorCode } from '../../errors.js';
import type { TokenResponse } from '../shared/token-response.js';
import type { TenantContext } from '../../tenancy/routing/tenant-context.js';
import type { TenantUsersRepository } from '../tenant-users/tenant-users.repository.js';
import { toTenantUserView } from '../tenant-users/tenant-user-view.js';
import type { AuditSource } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import { ownUserEvent } from '../audit/self-events.js';

/**
 * Authentication inside one tenant's database. Every method takes the request's tenant context, so it can only
 * ever read or write that tenant's database, and every token it issues is bound to that tenant's id.
 */
export class TenantAccountsService {
  constructor(
    private readonly users: TenantUsersRepository,
    private readonly accessTokens: AccessTokens,
    private readonly refreshTokens: RefreshTokenFamilies<TenantDatabase>,
    private readonly audit: AuditRecorder,
  ) {}

  async register(tenant: TenantContext, email: string, password: string) {
    if (!tenant.allowSignup) throw new AppError('SIGNUP_DISABLED');
    const passwordHash = await hashPassword(password);
    const user = await this.users.insert(tenant.db, { email, password_hash: passwordHash, role: 'member' });
    return toTenantUserView(user);
  }

  /**
   * Email and password to tokens. Every outcome is audited before answering: a failure with its reason code, a
   * success once its refresh token is stored.
   *
   * The token and the success event are not written in one transaction, on purpose: the token is of no use until
   * the answer carries it, and the answer waits for the event, so a crash between the two leaves a stored hash
   * nobody holds, never a session without its event. A transaction (with the audit recorder's savepoint) made a
   * login 7 round trips to PostgreSQL instead of 3; measured, those writes were most of a login's CPU beyond argon2.
   */
  async login(
    tenant: TenantContext,
    email: string,
    password: string,
    source: AuditSource,
  ): Promise<TokenResponse> {
    const user = await this.users.findByEmail(tenant.db, email);
    // Users without a password (the owner linked to a core account) cannot log in here, and look like strangers.
    const valid = await verifyPassword(user?.password_hash ?? null, password);
    if (!user || !valid) return this.loginFailed(tenant, source, user, 'INVALID_CREDENTIALS');
    if (!user.is_active) return this.loginFailed(tenant, source, user, 'USER_INACTIVE');
    const tokens = await this.issueTokens(tenant, user);
    await this.audit.tenant(tenant, source, ownUserEvent('auth.login.succeeded', user.id));
    return tokens;
  }

  /**
   * Records a failed login, then refuses it. The typed email is not kept for an unknown account: people type
   * passwords into the email field.
   */
  private async loginFailed(
    tenant: TenantContext,
    source: AuditSource,
    user: TenantUser | undefined,
    reason: ErrorCode,
  ): Promise<never> {
    await this.audit.tenant(tenant, source, {
      action: 'auth.login.failed',
      actor: null,
      target: user ? { type: 'user', id: user.id } : null,
      detail: { reason },
    });
    throw new AppError(reason);
  }

  /** Tokens for a tenant user; the refresh token is stored in the tenant's own database (through `db`). */
  async issueTokens(
    tenant: TenantContext,
    user: TenantUser,
    refreshToken?: string,
    db: Kysely<TenantDatabase> = tenant.db,
  ): Promise<TokenResponse> {
    const access = this.accessTokens.issue({
      audience: 'tenant',
      userId: user.id,
      tenantId: tenant.id,
      role: user.role,
    });
    return { ...access, refresh_token: refreshToken ?? (await this.refreshTokens.issue(db, user.id)) };
  }

  /** Rotates a refresh token; presenting a used one revokes its family and records `auth.refresh.reuse_detected`. */
  async refresh(tenant: TenantContext, token: string, source: AuditSource): Promise<TokenResponse> {
    const rotated = await this.refreshTokens.rotate(tenant.db, token, (trx, reused) =>
      this.audit.tenant(
        tenant,
        source,
        { action: 'auth.refresh.reuse_detected', actor: null, target: { type: 'user', id: reused.userId } },
        trx,
      ),
    );
    const user = await this.users.findById(tenant.db, rotated.userId);
    if (!user?.is_active) {
      if (user) await this.refreshTokens.revokeAllForUser(tenant.db, user.id);
      throw new AppError('REFRESH_TOKEN_INVALID');
    }
    return this.issueTokens(tenant, user, rotated.token);
  }

  /** Revokes the session of a refresh token; `auth.logout` is recorded when one was live. */
  async logout(tenant: TenantContext, token: string, source: AuditSource): Promise<void> {
    await tenant.db.transaction().execute(async (trx) => {
      const revoked = await this.refreshTokens.revoke(trx, token);
      if (!revoked) return;
      await this.audit.tenant(tenant, source, ownUserEvent('auth.logout', revoked.userId), trx);
    });
  }

  /**
   * The user behind a verified tenant token, checked against the database on every request: a deleted or
   * deactivated user is refused at once, and the role used for authorization is the current one, not the
   * token's, so a demotion takes effect immediately.
   */
  async principalUser(tenant: TenantContext, userId: number): Promise<TenantPrincipal> {
    const user = await this.users.findPrincipal(tenant.db, userId);
    if (!user?.is_active) throw new AppError('TOKEN_INVALID');
    return user;
  }
}
