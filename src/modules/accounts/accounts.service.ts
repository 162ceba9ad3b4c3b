import type { Kysely } from 'kysely';
import type { AccessTokens } from '../../auth/access-tokens.js';
import { hashPassword, verifyPassword } from '../../auth/passwords.js';
import type { RefreshTokenFamilies } from '../shared/refresh-token-families.js';
import type { Config } from '../../config.js';
import type { CoreDatabase, CoreUser } from '../../db/core-schema.js';
import { AppError, type ErrorCode } from '../../errors.js';
import type { Mailer } from '../../mail/mailer.js';
import { passwordResetMail, verificationMail } from '../../mail/templates.js';
import type { TokenResponse } from '../shared/token-response.js';
import type { CoreUsersRepository } from './core-users.repository.js';
import type {
  AccountMailRequest,
  AccountMailRequestsRepository,
} from './account-mail-requests.repository.js';
import type { EmailTokensRepository } from './email-tokens.repository.js';
import type { AuditSource } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import { ownAccountEvent } from '../audit/self-events.js';

const HOUR_MS = 3_600_000;
/** Requests turned into mail per transaction by the background sender. */
const MAIL_REQUEST_BATCH = 20;

export interface AccountsDeps {
  db: Kysely<CoreDatabase>;
  config: Config;
  mailer: Mailer;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokenFamilies<CoreDatabase>;
  audit: AuditRecorder;
  users: CoreUsersRepository;
  emailTokens: EmailTokensRepository;
  mailRequests: AccountMailRequestsRepository;
}

/** The public shape of a core user: never a hash or a token. */
export function toCoreUserView(user: CoreUser) {
  return {
    id: user.id,
    email: user.email,
    is_owner: user.is_owner,
    is_verified: user.is_verified,
    created_at: user.created_at.toISOString(),
  };
}
export type CoreUserView = ReturnType<typeof toCoreUserView>;

/** Core (control-plane) accounts: registration, email verification, login, sessions, password reset. */
export class AccountsService {
  private readonly users: CoreUsersRepository;
  private readonly emailTokens: EmailTokensRepository;
  private readonly mailRequests: AccountMailRequestsRepository;

  constructor(private readonly deps: AccountsDeps) {
    this.users = deps.users;
    this.emailTokens = deps.emailTokens;
    this.mailRequests = deps.mailRequests;
  }

  private get linkTtlMs(): number {
    return this.deps.config.verificationTokenExpireHours * HOUR_MS;
  }

  private link(path: string, token: string): string {
    return `${this.deps.config.publicUrl}${path}?token=${encodeURIComponent(token)}`;
  }

  /** Creates the account and emails a verification link (in the same transaction as the outbox row). */
  async register(
    input: { email: string; password: string; is_owner: boolean },
    source: AuditSource,
  ): Promise<CoreUser> {
    const passwordHash = await hashPassword(input.password);
    return this.deps.db.transaction().execute(async (trx) => {
      const user = await this.users.insert(
        { email: input.email, password_hash: passwordHash, is_owner: input.is_owner },
        trx,
      );
      const token = await this.emailTokens.create(user.id, 'verify', this.linkTtlMs, trx);
      await this.deps.mailer.enqueue(verificationMail(user.email, this.link('/api/auth/verify', token)), trx);
      await this.deps.audit.core(
        source,
        ownAccountEvent('account.registered', user.id, { is_owner: user.is_owner }),
        trx,
      );
      return user;
    });
  }

  /** Consumes a verification token: 'verified' the first time, 'already' when the account is already verified. */
  async verifyEmail(token: string, source: AuditSource): Promise<'verified' | 'already'> {
    return this.deps.db.transaction().execute(async (trx) => {
      const result = await this.emailTokens.consume(token, 'verify', trx);
      if (result.status === 'unknown')
        throw new AppError('TOKEN_INVALID', 'Invalid verification token', { status: 404 });
      if (result.status === 'expired') throw new AppError('TOKEN_EXPIRED', 'Verification token has expired');
      const user = await this.users.findById(result.userId, trx);
      if (!user) throw new AppError('TOKEN_INVALID', 'Invalid verification token', { status: 404 });
      if (user.is_verified) return 'already';
      // A used token of a still-unverified account was superseded by a newer link.
      if (result.status === 'used')
        throw new AppError('TOKEN_INVALID', 'Invalid verification token', { status: 404 });
      await this.users.markVerified(user.id, trx);
      await this.deps.audit.core(source, ownAccountEvent('account.verified', user.id), trx);
      return 'verified';
    });
  }

  /**
   * Asks for a fresh verification link. Says nothing about whether the account exists, not even by timing: the
   * request is only recorded (durably, before the 202), and the background sender looks the account up.
   */
  async resendVerification(email: string): Promise<void> {
    await this.mailRequests.insert('verify', email);
    this.deps.mailer.wake();
  }

  /**
   * Email and password to tokens. Unknown email and wrong password are the same 401, in about the same time. The
   * success event is written after the refresh token, outside a transaction, for the reason given at
   * TenantAccountsService.login.
   */
  async login(email: string, password: string, source: AuditSource): Promise<TokenResponse> {
    const user = await this.users.findByEmail(email);
    const valid = await verifyPassword(user?.password_hash ?? null, password);
    if (!user || !valid) return this.loginFailed(source, user, 'INVALID_CREDENTIALS');
    if (!user.is_active) return this.loginFailed(source, user, 'USER_INACTIVE');
    if (!user.is_verified) return this.loginFailed(source, user, 'EMAIL_NOT_VERIFIED');
    const tokens = await this.issueTokens(user.id);
    await this.deps.audit.core(source, ownAccountEvent('account.login.succeeded', user.id));
    return tokens;
  }

  /**
   * Records a failed login before refusing it (there is no change to join). An unknown email is not kept:
   * people type passwords into the email field; such an event has no reader but the log of the operator.
   */
  private async loginFailed(
    source: AuditSource,
    user: CoreUser | undefined,
    reason: ErrorCode,
  ): Promise<never> {
    await this.deps.audit.core(source, {
      action: 'account.login.failed',
      actor: null,
      target: user ? { type: 'account', id: user.id } : null,
      ownerUserId: user?.id ?? null,
      detail: { reason },
    });
    throw new AppError(reason);
  }

  private async issueTokens(userId: number, refreshToken?: string): Promise<TokenResponse> {
    const access = this.deps.accessTokens.issue({ audience: 'core', userId });
    return {
      ...access,
      refresh_token: refreshToken ?? (await this.deps.refreshTokens.issue(this.deps.db, userId)),
    };
  }

  async refresh(token: string): Promise<TokenResponse> {
    const rotated = await this.deps.refreshTokens.rotate(this.deps.db, token);
    const user = await this.users.findById(rotated.userId);
    if (!user?.is_active) {
      if (user) await this.deps.refreshTokens.revokeAllForUser(this.deps.db, user.id);
      throw new AppError('REFRESH_TOKEN_INVALID');
    }
    return this.issueTokens(user.id, rotated.token);
  }

  async logout(token: string): Promise<void> {
    await this.deps.refreshTokens.revoke(this.deps.db, token);
  }

  /** Asks for a reset link: recorded like resendVerification, so a known and an unknown address cost the same. */
  async requestPasswordReset(email: string): Promise<void> {
    await this.mailRequests.insert('reset', email);
    this.deps.mailer.wake();
  }

  /**
   * Turns recorded requests into mail (run by the mailer before each delivery pass): a reset link for an active
   * account, a verification link for an active unverified one, nothing otherwise. Each batch is one transaction
   * (tokens, outbox rows, removal of the requests), so a crash leaves the requests to be done again, never half
   * done. Returns how many requests were handled.
   */
  async processMailRequests(): Promise<number> {
    let handled = 0;
    for (;;) {
      const count = await this.deps.db.transaction().execute(async (trx) => {
        const batch = await this.mailRequests.claim(trx, MAIL_REQUEST_BATCH);
        for (const request of batch) await this.fulfil(request, trx);
        await this.mailRequests.delete(
          trx,
          batch.map((request) => request.id),
        );
        return batch.length;
      });
      handled += count;
      if (count < MAIL_REQUEST_BATCH) return handled;
    }
  }

  private async fulfil(request: AccountMailRequest, trx: Kysely<CoreDatabase>): Promise<void> {
    const user = await this.users.findByEmail(request.email, trx);
    if (!user?.is_active) return;
    if (request.kind === 'verify' && user.is_verified) return;
    await this.emailTokens.revokeOutstanding(user.id, request.kind, trx);
    const token = await this.emailTokens.create(user.id, request.kind, this.linkTtlMs, trx);
    const mail =
      request.kind === 'verify'
        ? verificationMail(user.email, this.link('/api/auth/verify', token))
        : passwordResetMail(user.email, this.link('/reset-password', token));
    await this.deps.mailer.enqueue(mail, trx);
  }

  /**
   * Sets a new password from a reset token and ends every session of the user. The emailed link proves the
   * mailbox, so an unverified account becomes verified too.
   */
  async confirmPasswordReset(token: string, password: string, source: AuditSource): Promise<void> {
    const passwordHash = await hashPassword(password);
    await this.deps.db.transaction().execute(async (trx) => {
      const result = await this.emailTokens.consume(token, 'reset', trx);
      if (result.status === 'expired') throw new AppError('TOKEN_EXPIRED', 'Reset token has expired');
      if (result.status !== 'ok') throw new AppError('TOKEN_INVALID', 'Invalid reset token', { status: 404 });
      await this.users.setPassword(result.userId, passwordHash, trx);
      await this.users.markVerified(result.userId, trx);
      await this.deps.refreshTokens.revokeAllForUser(trx, result.userId);
      await this.deps.audit.core(
        source,
        ownAccountEvent('account.password.changed', result.userId, { via: 'reset' }),
        trx,
      );
    });
  }

  /** Changes the password after checking the current one, and ends the user's other sessions. */
  async changePassword(
    user: CoreUser,
    currentPassword: string | undefined,
    password: string,
    source: AuditSource,
  ): Promise<CoreUser> {
    if (currentPassword === undefined) {
      throw new AppError('VALIDATION_ERROR', 'current_password is required to change the password', {
        errors: [{ path: '/current_password', message: 'is required to change the password' }],
      });
    }
    if (!(await verifyPassword(user.password_hash, currentPassword)))
      throw new AppError('INVALID_CREDENTIALS');
    const passwordHash = await hashPassword(password);
    return this.deps.db.transaction().execute(async (trx) => {
      const updated = await this.users.setPassword(user.id, passwordHash, trx);
      await this.deps.refreshTokens.revokeAllForUser(trx, user.id);
      await this.deps.audit.core(
        source,
        {
          action: 'account.password.changed',
          target: { type: 'account', id: user.id },
          ownerUserId: user.id,
          detail: { via: 'change' },
        },
        trx,
      );
      return updated;
    });
  }

  /** The user behind a verified core access token; a deleted or deactivated user is refused at once. */
  async principalUser(userId: number): Promise<CoreUser> {
    const user = await this.users.findById(userId);
    if (!user?.is_active) throw new AppError('TOKEN_INVALID');
    return user;
  }
}
