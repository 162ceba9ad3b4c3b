import { type Kysely, type Transaction } from 'kysely';
import type { TenantDatabase, TenantInvitation, TenantRole } from '../../db/tenant-schema.js';
import { AppError, isUniqueViolation } from '../../errors.js';

type TenantDb = Kysely<TenantDatabase> | Transaction<TenantDatabase>;

/** What a list can ask for: the stored states, plus `expired` (pending past its expiry). */
export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';

/** Invitations of one tenant database: the only place that writes SQL for them. */
export class InvitationsRepository {
  findById(db: TenantDb, id: number): Promise<TenantInvitation | undefined> {
    return db.selectFrom('tenant_invitations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** By id, locked until the transaction ends (revoke and resend must not cross an accept). */
  lockById(trx: Transaction<TenantDatabase>, id: number): Promise<TenantInvitation | undefined> {
    return trx
      .selectFrom('tenant_invitations')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
  }

  findByTokenHash(db: TenantDb, tokenHash: string): Promise<TenantInvitation | undefined> {
    return db
      .selectFrom('tenant_invitations')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
  }

  /**
   * Revokes the pending invitation of an email, if any (a new invitation replaces it: its link stops working).
   * Returns the ids revoked.
   */
  async revokePendingFor(db: TenantDb, email: string): Promise<number[]> {
    const rows = await db
      .updateTable('tenant_invitations')
      .set({ status: 'revoked', revoked_at: new Date() })
      .where('email', '=', email)
      .where('status', '=', 'pending')
      .returning('id')
      .execute();
    return rows.map((row) => row.id);
  }

  /**
   * Records a pending invitation. Two invitations for one email created at the very same time: the second
   * fails the one-pending-per-email index and is answered 409 CONFLICT (the first one stands).
   */
  async insert(
    db: TenantDb,
    values: { email: string; role: TenantRole; tokenHash: string; invitedBy: number; expiresAt: Date },
  ): Promise<TenantInvitation> {
    try {
      return await db
        .insertInto('tenant_invitations')
        .values({
          email: values.email,
          role: values.role,
          token_hash: values.tokenHash,
          invited_by: values.invitedBy,
          expires_at: values.expiresAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error))
        throw new AppError('CONFLICT', 'Another invitation for this email was being sent at the same time');
      throw error;
    }
  }

  /** A pending invitation gets a new token and expiry (resend); the old token no longer matches anything. */
  renewToken(db: TenantDb, id: number, tokenHash: string, expiresAt: Date): Promise<TenantInvitation> {
    return db
      .updateTable('tenant_invitations')
      .set({ token_hash: tokenHash, expires_at: expiresAt })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async revoke(db: TenantDb, id: number): Promise<void> {
    await db
      .updateTable('tenant_invitations')
      .set({ status: 'revoked', revoked_at: new Date() })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .execute();
  }

  /**
   * Marks the invitation of a token accepted, atomically: of two concurrent accepts exactly one gets the row.
   * Undefined when the token is unknown, no longer pending, or expired.
   */
  consume(db: TenantDb, tokenHash: string, now: Date): Promise<TenantInvitation | undefined> {
    return db
      .updateTable('tenant_invitations')
      .set({ status: 'accepted', accepted_at: now })
      .where('token_hash', '=', tokenHash)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst();
  }

  async recordAcceptedUser(db: TenantDb, id: number, userId: number): Promise<void> {
    await db
      .updateTable('tenant_invitations')
      .set({ accepted_user_id: userId })
      .where('id', '=', id)
      .execute();
  }

  /** A page of invitations in one status, ordered by id, after `afterId`. */
  list(
    db: TenantDb,
    options: { status: InvitationStatus; limit: number; afterId: number; now: Date },
  ): Promise<TenantInvitation[]> {
    let query = db.selectFrom('tenant_invitations').selectAll().where('id', '>', options.afterId);
    // The process clock, as for accepting (consume): a row listed as pending can be accepted.
    if (options.status === 'pending')
      query = query.where('status', '=', 'pending').where('expires_at', '>', options.now);
    else if (options.status === 'expired')
      query = query.where('status', '=', 'pending').where('expires_at', '<=', options.now);
    else query = query.where('status', '=', options.status);
    return query.orderBy('id').limit(options.limit).execute();
  }
}
