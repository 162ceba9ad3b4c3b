import type { Kysely } from 'kysely';
import type { CoreDatabase, CoreUser } from '../../db/core-schema.js';
import { AppError, isUniqueViolation } from '../../errors.js';

/** Core users: the only place that writes SQL for them. */
export class CoreUsersRepository {
  constructor(private readonly db: Kysely<CoreDatabase>) {}

  findByEmail(email: string, db: Kysely<CoreDatabase> = this.db): Promise<CoreUser | undefined> {
    return db.selectFrom('core_users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  findById(id: number, db: Kysely<CoreDatabase> = this.db): Promise<CoreUser | undefined> {
    return db.selectFrom('core_users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Inserts a user; a taken email is 409 EMAIL_TAKEN (the unique index decides, so concurrent sign-ups are safe). */
  async insert(
    values: { email: string; password_hash: string; is_owner: boolean },
    db: Kysely<CoreDatabase> = this.db,
  ): Promise<CoreUser> {
    try {
      return await db.insertInto('core_users').values(values).returningAll().executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('EMAIL_TAKEN', 'Email already registered');
      throw error;
    }
  }

  async markVerified(id: number, db: Kysely<CoreDatabase> = this.db): Promise<void> {
    await db
      .updateTable('core_users')
      .set({ is_verified: true, updated_at: new Date() })
      .where('id', '=', id)
      .execute();
  }

  async setPassword(id: number, passwordHash: string, db: Kysely<CoreDatabase> = this.db): Promise<CoreUser> {
    return db
      .updateTable('core_users')
      .set({ password_hash: passwordHash, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
