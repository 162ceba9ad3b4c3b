import type { Kysely } from 'kysely';
import type { CoreDatabase, Organization } from '../../db/core-schema.js';
import { AppError, isUniqueViolation } from '../../errors.js';

/** Organization rows of the core database: the only place that writes SQL for them. */
export class OrganizationsRepository {
  constructor(private readonly db: Kysely<CoreDatabase>) {}

  /** Inserts a new organization in `provisioning`; a live organization with the same slug is 409 SLUG_TAKEN. */
  async insert(values: { name: string; slug: string; owner_id: number }): Promise<Organization> {
    try {
      return await this.db
        .insertInto('organizations')
        .values({ ...values, status: 'provisioning' })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('SLUG_TAKEN');
      throw error;
    }
  }

  /** A live (not deleted) organization of this owner; undefined for anyone else's, so it answers 404. */
  findOwned(ownerId: number, id: number): Promise<Organization | undefined> {
    return this.db
      .selectFrom('organizations')
      .selectAll()
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
  }

  listOwned(ownerId: number, options: { afterId: number; limit: number }): Promise<Organization[]> {
    return this.db
      .selectFrom('organizations')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .where('deleted_at', 'is', null)
      .where('id', '>', options.afterId)
      .orderBy('id')
      .limit(options.limit)
      .execute();
  }

  async slugInUse(slug: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('organizations')
      .select('id')
      .where('slug', '=', slug)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  update(id: number, changes: { name?: string; allow_signup?: boolean }): Promise<Organization> {
    return this.db
      .updateTable('organizations')
      .set({ ...changes, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
