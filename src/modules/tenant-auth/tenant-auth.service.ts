import type { AccessTokens } from '../../auth/access-tokens.js';
import { hashPassword, verifyPassword } from '../../auth/passwords.js';
import type { RefreshTokens } from '../../auth/refresh-tokens.js';
import type { TenantPrincipal, TenantUser } from '../../db/tenant-schema.js';
import { AppError } from '../../errors.js';
import type { TokenResponse } from '../../http/schemas.js';
import type { TenantContext } from '../../tenancy/routing/tenant-context.js';
import { TenantUsersRepository } from '../tenant-users/tenant-users.repository.js';
import { toTenantUserView } from '../tenant-users/tenant-user-view.js';

/**
 * Authentication inside one tenant's database. Every method takes the request's tenant context, so it can only
 * ever read or write that tenant's database, and every token it issues is bound to that tenant's id.
 */
export class TenantAuthService {
  private readonly users = new TenantUsersRepository();

  constructor(
    private readonly accessTokens: AccessTokens,
    private readonly refreshTokens: RefreshTokens,
  ) {}

  async register(tenant: TenantContext, email: string, password: string) {
    if (!tenant.allowSignup) throw new AppError('SIGNUP_DISABLED');
    const passwordHash = await hashPassword(password);
    const user = await this.users.insert(tenant.db, { email, password_hash: passwordHash, role: 'member' });
    return toTenantUserView(user);
  }

  async login(tenant: TenantContext, email: string, password: string): Promise<TokenResponse> {
    const user = await this.users.findByEmail(tenant.db, email);
    // Users without a password (the owner linked to a core account) cannot log in here, and look like strangers.
    const valid = await verifyPassword(user?.password_hash ?? null, password);
    if (!user || !valid) throw new AppError('INVALID_CREDENTIALS');
    if (!user.is_active) throw new AppError('USER_INACTIVE');
    return this.issueTokens(tenant, user);
  }

  /** Tokens for a tenant user; the refresh token is stored in the tenant's own database. */
  async issueTokens(tenant: TenantContext, user: TenantUser, refreshToken?: string): Promise<TokenResponse> {
    const access = await this.accessTokens.issue({
      audience: 'tenant',
      userId: user.id,
      tenantId: tenant.id,
      role: user.role,
    });
    return { ...access, refresh_token: refreshToken ?? (await this.refreshTokens.issue(tenant.db, user.id)) };
  }

  async refresh(tenant: TenantContext, token: string): Promise<TokenResponse> {
    const rotated = await this.refreshTokens.rotate(tenant.db, token);
    const user = await this.users.findById(tenant.db, rotated.userId);
    if (!user?.is_active) {
      if (user) await this.refreshTokens.revokeAllForUser(tenant.db, user.id);
      throw new AppError('REFRESH_TOKEN_INVALID');
    }
    return this.issueTokens(tenant, user, rotated.token);
  }

  logout(tenant: TenantContext, token: string): Promise<void> {
    return this.refreshTokens.revoke(tenant.db, token);
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
