import { sql, type Kysely, type Transaction } from 'kysely';
import type { TenantDatabase, TenantPrincipal, TenantRole, TenantUser } from '../../db/tenant-schema.js';
import { StatementPerHandle } from '../../db/reusable-statements.js';
import { AppError, isUniqueViolation } from '../../errors.js';

type TenantDb = Kysely<TenantDatabase> | Transaction<TenantDatabase>;

const EMAIL_TAKEN = 'Email already registered in this tenant';

/**
 * The principal lookup runs on every authenticated tenant request, the lookup by email on every login: each is
 * compiled once per tenant handle and runs as a prepared statement on a dedicated tenant's connections
 * (db/reusable-statements.ts).
 */
const principalById = new StatementPerHandle((db: Kysely<TenantDatabase>) =>
  db
    .selectFrom('tenant_users')
    .select(['id', 'email', 'role', 'is_active', 'created_at'])
    .where('id', '=', 0)
    .compile(),
);
const userByEmail = new StatementPerHandle((db: Kysely<TenantDatabase>) =>
  db.selectFrom('tenant_users').selectAll().where('email', '=', '').compile(),
);

/** Tenant users of one tenant database: the only place that writes SQL for them. */
export class TenantUsersRepository {
  findById(db: TenantDb, id: number): Promise<TenantUser | undefined> {
    return db.selectFrom('tenant_users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The columns a request needs of its authenticated user (see TenantPrincipal), by id. */
  async findPrincipal(db: TenantDb, id: number): Promise<TenantPrincipal | undefined> {
    return (await principalById.execute(db, [id])).rows[0];
  }

  /**
   * Adds an organization's owner as a tenant user (role owner, no password: they enter by token exchange).
   * Idempotent (a provisioning step may run again after a crash); throws if the row is not the owner's.
   */
  async insertOwner(db: TenantDb, owner: { email: string; coreUserId: number }): Promise<void> {
    await db
      .insertInto('tenant_users')
      .values({
        email: owner.email.toLowerCase(),
        role: 'owner',
        core_user_id: owner.coreUserId,
        password_hash: null,
      })
      .onConflict((conflict) => conflict.doNothing())
      .execute();
    // ON CONFLICT DO NOTHING makes a re-run a no-op; make sure the row really is the owner.
    const row = await db
      .selectFrom('tenant_users')
      .select('role')
      .where('core_user_id', '=', owner.coreUserId)
      .executeTakeFirst();
    if (row?.role !== 'owner') throw new Error(`Owner ${owner.coreUserId} could not be added to the tenant`);
  }

  /**
   * After an import (tenancy/lifecycle/tenant-import.ts): core user ids of the exporting deployment mean nothing
   * here, so every link is cleared; then the tenant user with the new owner's email becomes the owner-linked user
   * (role owner, active), or the owner is added as a new one (as provisioning does).
   */
  async linkImportedOwner(db: TenantDb, owner: { email: string; coreUserId: number }): Promise<void> {
    await db
      .updateTable('tenant_users')
      .set({ core_user_id: null })
      .where('core_user_id', 'is not', null)
      .execute();
    const linked = await db
      .updateTable('tenant_users')
      .set({ core_user_id: owner.coreUserId, role: 'owner', is_active: true })
      .where('email', '=', owner.email.toLowerCase())
      .executeTakeFirst();
    if (linked.numUpdatedRows === 0n) await this.insertOwner(db, owner);
  }

  async findByEmail(db: TenantDb, email: string): Promise<TenantUser | undefined> {
    return (await userByEmail.execute(db, [email])).rows[0];
  }

  findByCoreUser(db: TenantDb, coreUserId: number): Promise<TenantUser | undefined> {
    return db
      .selectFrom('tenant_users')
      .selectAll()
      .where('core_user_id', '=', coreUserId)
      .executeTakeFirst();
  }

  async insert(
    db: TenantDb,
    values: { email: string; password_hash: string; role: TenantRole },
  ): Promise<TenantUser> {
    try {
      return await db.insertInto('tenant_users').values(values).returningAll().executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('EMAIL_TAKEN', EMAIL_TAKEN);
      throw error;
    }
  }

  async update(
    db: TenantDb,
    id: number,
    changes: { email?: string; password_hash?: string; role?: TenantRole; is_active?: boolean },
  ): Promise<TenantUser> {
    try {
      const row = await db
        .updateTable('tenant_users')
        .set({ ...changes, updated_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw new AppError('NOT_FOUND', 'User not found');
      return row;
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('EMAIL_TAKEN', EMAIL_TAKEN);
      throw error;
    }
  }

  async delete(db: TenantDb, id: number): Promise<boolean> {
    const result = await db.deleteFrom('tenant_users').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * Active owners, locked until the transaction ends, so two concurrent demotions cannot both see
   * "another owner remains" and leave the tenant with none.
   */
  async lockActiveOwners(trx: Transaction<TenantDatabase>): Promise<number[]> {
    const rows = await trx
      .selectFrom('tenant_users')
      .select('id')
      .where('role', '=', 'owner')
      .where('is_active', '=', true)
      .orderBy('id')
      .forUpdate()
      .execute();
    return rows.map((row) => row.id);
  }

  /** A page of users ordered by id, after `afterId`, optionally filtered by an email substring. */
  list(db: TenantDb, options: { limit: number; afterId: number; q?: string }): Promise<TenantUser[]> {
    let query = db.selectFrom('tenant_users').selectAll().where('id', '>', options.afterId);
    if (options.q) {
      const pattern = `%${options.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query = query.where(sql<boolean>`email like ${pattern}`);
    }
    return query.orderBy('id').limit(options.limit).execute();
  }
}
