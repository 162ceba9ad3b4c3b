import type { Kysely } from 'kysely';
import { compileOnly } from '../../db/compile-only.js';
import { RowInserts } from '../../db/reusable-statements.js';
import type { RefreshTokensTable } from '../../db/core-schema.js';
import type { TenantRefreshTokensTable } from '../../db/tenant-schema.js';

/** The two refresh-token tables: the core's and every tenant's, of one shape. */
interface RefreshTokenTables {
  refresh_tokens: RefreshTokensTable;
  tenant_refresh_tokens: TenantRefreshTokensTable;
}
const tables = compileOnly<RefreshTokenTables>();

/** A refresh token as the families logic stores it. */
export interface NewRefreshToken {
  user_id: number;
  family_id: string;
  token_hash: string;
  expires_at: Date;
}

/** A refresh token row as the families logic reads it back. */
export interface RefreshTokenRef {
  user_id: number;
  family_id: string;
}

/**
 * The SQL of one plane's refresh-token table, typed by the handle it runs on (`DB`): the core's repository
 * (accounts) and the tenants' (tenant-accounts) each fix their table and database type, so neither can be handed
 * the other plane's handle. The rotation and reuse logic is RefreshTokenFamilies (refresh-token-families.ts).
 */
export abstract class RefreshTokensTableRepository<DB> {
  /** One per login and per rotation: compiled once, prepared on a dedicated tenant's connections. */
  private readonly inserts: RowInserts<NewRefreshToken>;

  protected constructor(private readonly table: keyof RefreshTokenTables) {
    this.inserts = new RowInserts((row) => tables.insertInto(table).values(row).compile());
  }

  async insert(db: Kysely<DB>, row: NewRefreshToken): Promise<void> {
    await db.executeQuery(this.inserts.query(row));
  }

  /** Marks a live token used; returns its user and family (undefined: unknown, used, revoked or expired). */
  async claim(db: Kysely<DB>, tokenHash: string, now: Date): Promise<RefreshTokenRef | undefined> {
    const query = tables
      .updateTable(this.table)
      .set({ used_at: now })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['user_id', 'family_id']);
    return (await db.executeQuery(query.compile())).rows[0];
  }

  async find(db: Kysely<DB>, tokenHash: string): Promise<RefreshTokenRef | undefined> {
    const query = tables
      .selectFrom(this.table)
      .select(['family_id', 'user_id'])
      .where('token_hash', '=', tokenHash);
    return (await db.executeQuery(query.compile())).rows[0];
  }

  /** As `find`, with when the token was used (a used token presented again revokes its family). */
  async findWithUse(
    db: Kysely<DB>,
    tokenHash: string,
  ): Promise<(RefreshTokenRef & { used_at: Date | null }) | undefined> {
    const query = tables
      .selectFrom(this.table)
      .select(['family_id', 'used_at', 'user_id'])
      .where('token_hash', '=', tokenHash);
    return (await db.executeQuery(query.compile())).rows[0];
  }

  /** Revokes every live token of a family; returns how many it revoked. */
  async revokeFamily(db: Kysely<DB>, familyId: string): Promise<number> {
    const result = await db.executeQuery(this.revokeLive('family_id', familyId).compile());
    return Number(result.numAffectedRows ?? 0n);
  }

  async revokeAllForUser(db: Kysely<DB>, userId: number): Promise<void> {
    await db.executeQuery(this.revokeLive('user_id', userId).compile());
  }

  private revokeLive(column: 'family_id' | 'user_id', value: string | number) {
    return tables
      .updateTable(this.table)
      .set({ revoked_at: new Date() })
      .where(column, '=', value)
      .where('revoked_at', 'is', null);
  }
}
