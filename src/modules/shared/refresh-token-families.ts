import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { hashSecretToken, newSecretToken } from '../../auth/secret-tokens.js';
import { AppError } from '../../errors.js';
import type { RefreshTokensTableRepository } from './refresh-tokens-table.js';

const DAY_MS = 86_400_000;

/**
 * Opaque refresh tokens: stored only as SHA-256 hashes, rotated on every use, and grouped in families (one per
 * login) so that presenting an already-used token — a sign it was stolen — revokes the whole family.
 * The same logic serves the core and tenant databases, each through its own table's repository.
 *
 * @example
 * const refresh = new RefreshTokenFamilies(new CoreRefreshTokensRepository(), 14);
 * const token = await refresh.issue(core.db, user.id);
 * const { userId, token: next } = await refresh.rotate(core.db, token);
 */
export class RefreshTokenFamilies<DB> {
  constructor(
    private readonly tokens: RefreshTokensTableRepository<DB>,
    private readonly ttlDays: number,
  ) {}

  /** Starts a new family (a login) or continues one (a rotation); returns the plaintext token. */
  async issue(db: Kysely<DB>, userId: number, familyId: string = randomUUID()): Promise<string> {
    const token = newSecretToken();
    await this.tokens.insert(db, {
      user_id: userId,
      family_id: familyId,
      token_hash: hashSecretToken(token),
      expires_at: new Date(Date.now() + this.ttlDays * DAY_MS),
    });
    return token;
  }

  /**
   * Exchanges a valid token for a new one of the same family. A used token revokes its family; unknown, revoked
   * or expired tokens are refused. Every refusal is 401 REFRESH_TOKEN_INVALID.
   */
  async rotate(
    db: Kysely<DB>,
    token: string,
    onReuse?: (trx: Transaction<DB>, reused: { userId: number }) => Promise<void>,
  ): Promise<{ userId: number; token: string }> {
    const hash = hashSecretToken(token);
    const rotated = await db.transaction().execute(async (trx) => {
      const row = await this.tokens.claim(trx, hash, new Date());
      if (!row) return null;
      return { userId: row.user_id, token: await this.issue(trx, row.user_id, row.family_id) };
    });
    if (rotated) return rotated;

    const known = await this.tokens.findWithUse(db, hash);
    if (known?.used_at) {
      // The revocation and whatever the caller records about the reuse (an audit event) commit together.
      await db.transaction().execute(async (trx) => {
        await this.tokens.revokeFamily(trx, known.family_id);
        await onReuse?.(trx, { userId: known.user_id });
      });
    }
    throw new AppError('REFRESH_TOKEN_INVALID');
  }

  /**
   * Revokes the family of a token (logout). Unknown tokens are ignored: logout is idempotent. Returns the token's
   * user when this call revoked something (null for an unknown or already revoked session).
   */
  async revoke(db: Kysely<DB>, token: string): Promise<{ userId: number } | null> {
    const row = await this.tokens.find(db, hashSecretToken(token));
    if (!row) return null;
    return (await this.tokens.revokeFamily(db, row.family_id)) > 0 ? { userId: row.user_id } : null;
  }

  /** Ends every session of a user (password change or reset, deactivation). */
  revokeAllForUser(db: Kysely<DB>, userId: number): Promise<void> {
    return this.tokens.revokeAllForUser(db, userId);
  }
}
