import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { RefreshTokensTable } from '../../db/core-schema.js';
import { AppError } from '../../errors.js';
import { hashSecretToken, newSecretToken } from '../../auth/secret-tokens.js';

/** The core and every tenant database keep refresh tokens in a table of this one shape. */
export type RefreshTokenTable = 'refresh_tokens' | 'tenant_refresh_tokens';
type RefreshDb = Kysely<{ refresh_tokens: RefreshTokensTable }>;

const DAY_MS = 86_400_000;

/**
 * Opaque refresh tokens: stored only as SHA-256 hashes, rotated on every use, and grouped in families (one per
 * login) so that presenting an already-used token — a sign it was stolen — revokes the whole family.
 * The same logic serves the core and tenant databases; only the table differs.
 *
 * @example
 * const refresh = new RefreshTokens('refresh_tokens', 14);
 * const token = await refresh.issue(core.db, user.id);
 * const { userId, token: next } = await refresh.rotate(core.db, token);
 */
export class RefreshTokens {
  constructor(
    private readonly table: RefreshTokenTable,
    private readonly ttlDays: number,
  ) {}

  private handle<DB>(db: Kysely<DB> | Transaction<DB>): RefreshDb {
    return db as unknown as RefreshDb;
  }

  private get name(): 'refresh_tokens' {
    // Both tables share one shape; Kysely only needs a name it knows the type of.
    return this.table as 'refresh_tokens';
  }

  /** Starts a new family (a login) or continues one (a rotation); returns the plaintext token. */
  async issue<DB>(
    db: Kysely<DB> | Transaction<DB>,
    userId: number,
    familyId: string = randomUUID(),
  ): Promise<string> {
    return this.insert(this.handle(db), userId, familyId);
  }

  private async insert(db: RefreshDb, userId: number, familyId: string): Promise<string> {
    const token = newSecretToken();
    await db
      .insertInto(this.name)
      .values({
        user_id: userId,
        family_id: familyId,
        token_hash: hashSecretToken(token),
        expires_at: new Date(Date.now() + this.ttlDays * DAY_MS),
      })
      .execute();
    return token;
  }

  /**
   * Exchanges a valid token for a new one of the same family. A used token revokes its family; unknown, revoked
   * or expired tokens are refused. Every refusal is 401 REFRESH_TOKEN_INVALID.
   */
  async rotate<DB>(
    db: Kysely<DB> | Transaction<DB>,
    token: string,
    onReuse?: (trx: Transaction<DB>, reused: { userId: number }) => Promise<void>,
  ): Promise<{ userId: number; token: string }> {
    const hash = hashSecretToken(token);
    const rotated = await this.handle(db)
      .transaction()
      .execute(async (trx) => {
        const now = new Date();
        const row = await trx
          .updateTable(this.name)
          .set({ used_at: now })
          .where('token_hash', '=', hash)
          .where('used_at', 'is', null)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', now)
          .returning(['user_id', 'family_id'])
          .executeTakeFirst();
        if (!row) return null;
        return { userId: row.user_id, token: await this.insert(trx, row.user_id, row.family_id) };
      });
    if (rotated) return rotated;

    const known = await this.handle(db)
      .selectFrom(this.name)
      .select(['family_id', 'used_at', 'user_id'])
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    if (known?.used_at) {
      // The revocation and whatever the caller records about the reuse (an audit event) commit together.
      await (db as Kysely<DB>).transaction().execute(async (trx) => {
        await this.revokeFamily(trx, known.family_id);
        await onReuse?.(trx, { userId: known.user_id });
      });
    }
    throw new AppError('REFRESH_TOKEN_INVALID');
  }

  /**
   * Revokes the family of a token (logout). Unknown tokens are ignored: logout is idempotent. Returns the token's
   * user when this call revoked something (null for an unknown or already revoked session).
   */
  async revoke<DB>(db: Kysely<DB> | Transaction<DB>, token: string): Promise<{ userId: number } | null> {
    const row = await this.handle(db)
      .selectFrom(this.name)
      .select(['family_id', 'user_id'])
      .where('token_hash', '=', hashSecretToken(token))
      .executeTakeFirst();
    if (!row) return null;
    return (await this.revokeFamily(db, row.family_id)) > 0 ? { userId: row.user_id } : null;
  }

  /** Revokes every live token of a family; returns how many it revoked. */
  async revokeFamily<DB>(db: Kysely<DB> | Transaction<DB>, familyId: string): Promise<number> {
    const result = await this.handle(db)
      .updateTable(this.name)
      .set({ revoked_at: new Date() })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Ends every session of a user (password change or reset, deactivation). */
  async revokeAllForUser<DB>(db: Kysely<DB> | Transaction<DB>, userId: number): Promise<void> {
    await this.handle(db)
      .updateTable(this.name)
      .set({ revoked_at: new Date() })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
  }
}
