import type { Kysely } from 'kysely';
import type { CoreDatabase, Organization, PlacementKind } from '../../db/core-schema.js';
import { AppError, isUniqueViolation } from '../../errors.js';
import { SLUG_PATTERN } from '../../tenancy/tenant-header.js';
import { slugFromName, suffixedSlug } from './slugs.js';

/** Organization rows of the core database: the only place that writes SQL for them. */
export class OrganizationsRepository {
  constructor(private readonly db: Kysely<CoreDatabase>) {}

  /**
   * Inserts a new organization in `provisioning`; a live organization with the same slug is 409 SLUG_TAKEN.
   * With `maxPerOwner`, an owner who already has that many organizations that are not deleted gets 403
   * QUOTA_EXCEEDED. The owner's row is locked while counting, so concurrent creations by one owner queue up
   * instead of all seeing room for one more.
   */
  async insert(
    values: { name: string; slug: string; owner_id: number; placement_kind?: PlacementKind },
    maxPerOwner: number | null = null,
  ): Promise<Organization> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        if (maxPerOwner !== null) {
          await trx
            .selectFrom('core_users')
            .select('id')
            .where('id', '=', values.owner_id)
            .forUpdate()
            .execute();
          const { live } = await trx
            .selectFrom('organizations')
            .select((eb) => eb.fn.countAll<string>().as('live'))
            .where('owner_id', '=', values.owner_id)
            .where('deleted_at', 'is', null)
            .executeTakeFirstOrThrow();
          if (Number(live) >= maxPerOwner) {
            throw new AppError(
              'QUOTA_EXCEEDED',
              `An owner may have at most ${maxPerOwner} organizations: delete one to create another`,
            );
          }
        }
        return trx
          .insertInto('organizations')
          .values({ ...values, status: 'provisioning' })
          .returningAll()
          .executeTakeFirstOrThrow();
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('SLUG_TAKEN');
      throw error;
    }
  }

  /**
   * Inserts with a given slug (422 when malformed, 409 when taken) or one derived from the name, made unique
   * with a random suffix when the plain one is taken. `maxPerOwner` as for `insert` (null: no quota); `placement`
   * is how it will be stored (provisioning places it).
   */
  async insertWithSlug(
    ownerId: number,
    name: string,
    given: string | undefined,
    options: { maxPerOwner?: number | null; placement?: PlacementKind } = {},
  ): Promise<Organization> {
    const maxPerOwner = options.maxPerOwner ?? null;
    const placement_kind = options.placement ?? 'dedicated';
    if (given !== undefined) {
      if (!SLUG_PATTERN.test(given)) {
        throw new AppError('VALIDATION_ERROR', 'Invalid body: /slug must match ^[a-z][a-z0-9-]{1,62}$', {
          errors: [{ path: '/slug', message: 'must match ^[a-z][a-z0-9-]{1,62}$' }],
        });
      }
      return this.insert({ name, slug: given, owner_id: ownerId, placement_kind }, maxPerOwner);
    }
    const base = slugFromName(name);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.insert(
          { name, slug: attempt === 0 ? base : suffixedSlug(base), owner_id: ownerId, placement_kind },
          maxPerOwner,
        );
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== 'SLUG_TAKEN' || attempt >= 5) throw error;
      }
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
