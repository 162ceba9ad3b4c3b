import { hashPassword } from '../../auth/passwords.js';
import { hashSecretToken, newSecretToken } from '../../auth/secret-tokens.js';
import type { Config } from '../../config.js';
import type { TenantInvitation, TenantPrincipal, TenantRole } from '../../db/tenant-schema.js';
import { AppError } from '../../errors.js';
import { decodeCursor, toPage } from '../shared/pagination.js';
import type { Mailer } from '../../mail/mailer.js';
import { invitationMail } from '../../mail/templates.js';
import type { TenantContext } from '../../tenancy/routing/tenant-context.js';
import type { AuditSource } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import type { OrganizationsRepository } from '../organizations/organizations.repository.js';
import { toTenantUserView } from '../tenant-users/tenant-user-view.js';
import type { TenantUsersRepository } from '../tenant-users/tenant-users.repository.js';
import { invitationStatus, toInvitationView } from './invitation-view.js';
import type { InvitationsRepository, InvitationStatus } from './invitations.repository.js';

const HOUR_MS = 3_600_000;

export interface InvitationsDeps {
  config: Pick<Config, 'publicUrl' | 'verificationTokenExpireHours'>;
  mailer: Mailer;
  /** For the organization's name (the email and the lookup show it); the tenant context carries only the slug. */
  organizations: OrganizationsRepository;
  invitations: InvitationsRepository;
  tenantUsers: TenantUsersRepository;
  /** invitation.sent / .revoked / .accepted, each in the transaction of its change. */
  audit: AuditRecorder;
}

/** What the invitee's front end may show before accepting: nothing about anyone but the invitee. */
export interface InvitationLookup {
  organization: { name: string; slug: string };
  email: string;
  role: TenantRole;
  expires_at: string;
}

function tokenInvalid(): AppError {
  return new AppError('TOKEN_INVALID', 'Invalid invitation token', { status: 404 });
}

/**
 * A token's invitation if it can still be accepted. Unknown, used, revoked and replaced tokens are all the
 * same 404 (a replaced or resent token's hash is no longer stored at all); a pending one past its expiry is 400.
 */
function usable(invitation: TenantInvitation | undefined, now: Date): TenantInvitation {
  if (invitation?.status !== 'pending') throw tokenInvalid();
  if (invitation.expires_at <= now) throw new AppError('TOKEN_EXPIRED', 'Invitation has expired');
  return invitation;
}

/** Only an owner may invite an owner, or touch an owner's invitation (as for users: permission first). */
function assertMayHandle(actor: TenantPrincipal, role: TenantRole): void {
  if (role === 'owner' && actor.role !== 'owner')
    throw new AppError('FORBIDDEN', 'Only an owner can invite an owner');
}

/**
 * Invitations into one tenant. The invitation lives in the tenant's database; its email goes through the core
 * mail outbox. The outbox row is committed before the tenant transaction commits and before the answer, so a
 * process killed after answering loses nothing; one killed in between leaves at worst an email whose link
 * answers 404 (never an invitation nobody was told about without the caller seeing an error).
 */
export class InvitationsService {
  private readonly invitations: InvitationsRepository;
  private readonly users: TenantUsersRepository;

  constructor(private readonly deps: InvitationsDeps) {
    this.invitations = deps.invitations;
    this.users = deps.tenantUsers;
  }

  private get linkTtlMs(): number {
    return this.deps.config.verificationTokenExpireHours * HOUR_MS;
  }

  private link(tenant: TenantContext, token: string): string {
    const query = `tenant=${encodeURIComponent(tenant.slug)}&token=${encodeURIComponent(token)}`;
    return `${this.deps.config.publicUrl}/invitations/accept?${query}`;
  }

  private async organizationName(tenant: TenantContext): Promise<string> {
    return (await this.deps.organizations.findById(tenant.id))?.name ?? tenant.slug;
  }

  private async enqueueMail(
    tenant: TenantContext,
    invitation: TenantInvitation,
    token: string,
    organizationName: string,
  ): Promise<void> {
    await this.deps.mailer.enqueue(
      invitationMail(invitation.email, {
        organizationName,
        role: invitation.role,
        link: this.link(tenant, token),
        expiresAt: invitation.expires_at,
      }),
    );
  }

  /** Invites an email with a role; a pending invitation of the same email is replaced (its link dies). */
  async invite(
    tenant: TenantContext,
    actor: TenantPrincipal,
    input: { email: string; role: TenantRole },
    source: AuditSource,
  ) {
    assertMayHandle(actor, input.role);
    const organizationName = await this.organizationName(tenant);
    const token = newSecretToken();
    const invitation = await tenant.db.transaction().execute(async (trx) => {
      if (await this.users.findByEmail(trx, input.email)) throw new AppError('ALREADY_MEMBER');
      const replaced = await this.invitations.revokePendingFor(trx, input.email);
      const row = await this.invitations.insert(trx, {
        email: input.email,
        role: input.role,
        tokenHash: hashSecretToken(token),
        invitedBy: actor.id,
        expiresAt: new Date(Date.now() + this.linkTtlMs),
      });
      // Last step before the commit: a failure above never sends mail.
      await this.enqueueMail(tenant, row, token, organizationName);
      for (const id of replaced) {
        await this.deps.audit.tenant(
          tenant,
          source,
          {
            action: 'invitation.revoked',
            target: { type: 'invitation', id },
            detail: { replaced_by: row.id },
          },
          trx,
        );
      }
      await this.deps.audit.tenant(
        tenant,
        source,
        { action: 'invitation.sent', target: { type: 'invitation', id: row.id }, detail: { role: row.role } },
        trx,
      );
      return row;
    });
    return toInvitationView(invitation);
  }

  async list(tenant: TenantContext, query: { status?: InvitationStatus; limit?: number; cursor?: string }) {
    const limit = query.limit ?? 20;
    const rows = await this.invitations.list(tenant.db, {
      status: query.status ?? 'pending',
      limit: limit + 1,
      afterId: decodeCursor(query.cursor),
      now: new Date(),
    });
    return toPage(rows, limit, toInvitationView);
  }

  /**
   * Revokes an invitation: its link stops working. Revoking a revoked one changes nothing (204 again); an
   * accepted one cannot be revoked (409 INVITATION_NOT_PENDING: remove the user instead).
   */
  async revoke(
    tenant: TenantContext,
    actor: TenantPrincipal,
    id: number,
    source: AuditSource,
  ): Promise<void> {
    await tenant.db.transaction().execute(async (trx) => {
      const invitation = await this.invitations.lockById(trx, id);
      if (!invitation) throw new AppError('NOT_FOUND', 'Invitation not found');
      assertMayHandle(actor, invitation.role);
      if (invitation.status === 'accepted') throw new AppError('INVITATION_NOT_PENDING');
      if (invitation.status === 'revoked') return;
      await this.invitations.revoke(trx, id);
      await this.deps.audit.tenant(
        tenant,
        source,
        { action: 'invitation.revoked', target: { type: 'invitation', id } },
        trx,
      );
    });
  }

  /**
   * Emails a pending invitation again with a new token and a new expiry; the previous link stops working.
   * Accepted, revoked and expired invitations answer 409 INVITATION_NOT_PENDING (invite the email anew).
   */
  async resend(tenant: TenantContext, actor: TenantPrincipal, id: number, source: AuditSource) {
    const organizationName = await this.organizationName(tenant);
    const token = newSecretToken();
    const invitation = await tenant.db.transaction().execute(async (trx) => {
      const current = await this.invitations.lockById(trx, id);
      if (!current) throw new AppError('NOT_FOUND', 'Invitation not found');
      assertMayHandle(actor, current.role);
      if (invitationStatus(current) !== 'pending') throw new AppError('INVITATION_NOT_PENDING');
      const row = await this.invitations.renewToken(
        trx,
        id,
        hashSecretToken(token),
        new Date(Date.now() + this.linkTtlMs),
      );
      await this.enqueueMail(tenant, row, token, organizationName);
      await this.deps.audit.tenant(
        tenant,
        source,
        {
          action: 'invitation.sent',
          target: { type: 'invitation', id },
          detail: { role: row.role, resent: true },
        },
        trx,
      );
      return row;
    });
    return toInvitationView(invitation);
  }

  /** What the invitee's front end shows before accepting. */
  async lookup(tenant: TenantContext, token: string): Promise<InvitationLookup> {
    const found = await this.invitations.findByTokenHash(tenant.db, hashSecretToken(token));
    const invitation = usable(found, new Date());
    return {
      organization: { name: await this.organizationName(tenant), slug: tenant.slug },
      email: invitation.email,
      role: invitation.role,
      expires_at: invitation.expires_at.toISOString(),
    };
  }

  /**
   * Accepts an invitation: creates the tenant user with the invited role and the given password, whether or not
   * the organization allows open sign-up. Single use: of two concurrent accepts exactly one succeeds.
   */
  async accept(tenant: TenantContext, token: string, password: string, source: AuditSource) {
    const tokenHash = hashSecretToken(token);
    // Checked before hashing the password, so a bad token costs no argon2 work.
    usable(await this.invitations.findByTokenHash(tenant.db, tokenHash), new Date());
    const passwordHash = await hashPassword(password);
    const user = await tenant.db.transaction().execute(async (trx) => {
      const now = new Date();
      const invitation = await this.invitations.consume(trx, tokenHash, now);
      // Used, revoked, resent or expired meanwhile: answer as if it had been so from the start.
      if (!invitation) usable(await this.invitations.findByTokenHash(trx, tokenHash), now);
      if (!invitation) throw tokenInvalid();
      if (await this.users.findByEmail(trx, invitation.email)) throw new AppError('ALREADY_MEMBER');
      let created;
      try {
        created = await this.users.insert(trx, {
          email: invitation.email,
          password_hash: passwordHash,
          role: invitation.role,
        });
      } catch (error) {
        // Registered at the same moment: the transaction (and the consumption of the token) rolls back.
        if (error instanceof AppError && error.code === 'EMAIL_TAKEN') throw new AppError('ALREADY_MEMBER');
        throw error;
      }
      await this.invitations.recordAcceptedUser(trx, invitation.id, created.id);
      // The caller was anonymous: the actor is the user the invitation just created.
      await this.deps.audit.tenant(
        tenant,
        source,
        {
          action: 'invitation.accepted',
          actor: { plane: 'tenant', user_id: created.id },
          target: { type: 'invitation', id: invitation.id },
          detail: { role: invitation.role },
        },
        trx,
      );
      return created;
    });
    return toTenantUserView(user);
  }
}
