import type { Kysely } from 'kysely';
import { hashSecretToken, newSecretToken } from '../../auth/secret-tokens.js';
import type { CoreDatabase, EmailTokenPurpose } from '../../db/core-schema.js';

export type ConsumeResult =
  | { status: 'ok'; userId: number }
  | { status: 'used'; userId: number }
  | { status: 'expired' }
  | { status: 'unknown' };

/** Single-use email tokens (verification, password reset), stored only as hashes. */
export class EmailTokensRepository {
  constructor(private readonly db: Kysely<CoreDatabase>) {}

  /** Creates a token for a user and purpose, returning the plaintext that goes into the emailed link. */
  async create(
    userId: number,
    purpose: EmailTokenPurpose,
    ttlMs: number,
    db: Kysely<CoreDatabase> = this.db,
  ): Promise<string> {
    const token = newSecretToken();
    await db
      .insertInto('email_tokens')
      .values({
        user_id: userId,
        purpose,
        token_hash: hashSecretToken(token),
        expires_at: new Date(Date.now() + ttlMs),
      })
      .execute();
    return token;
  }

  /**
   * Marks a token used, atomically: of two concurrent uses exactly one gets `ok`.
   * Tells apart unknown, expired and already-used tokens so callers can answer as the contract says.
   */
  async consume(
    token: string,
    purpose: EmailTokenPurpose,
    db: Kysely<CoreDatabase> = this.db,
  ): Promise<ConsumeResult> {
    const hash = hashSecretToken(token);
    const now = new Date();
    const used = await db
      .updateTable('email_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hash)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('user_id')
      .executeTakeFirst();
    if (used) return { status: 'ok', userId: used.user_id };
    const row = await db
      .selectFrom('email_tokens')
      .select(['user_id', 'used_at', 'expires_at'])
      .where('token_hash', '=', hash)
      .where('purpose', '=', purpose)
      .executeTakeFirst();
    if (!row) return { status: 'unknown' };
    if (row.used_at) return { status: 'used', userId: row.user_id };
    return { status: 'expired' };
  }

  /** Invalidates a user's outstanding tokens of one purpose (a newer link replaces older ones). */
  async revokeOutstanding(
    userId: number,
    purpose: EmailTokenPurpose,
    db: Kysely<CoreDatabase> = this.db,
  ): Promise<void> {
    await db
      .updateTable('email_tokens')
      .set({ used_at: new Date() })
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .execute();
  }
}
