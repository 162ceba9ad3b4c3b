import { sql, type Kysely } from 'kysely';
import type { CoreDatabase, OrganizationDomain } from '../../db/core-schema.js';
import { AppError, isUniqueViolation } from '../../errors.js';

/** Organizations that still exist: a domain of any other one is free. */
const LIVE = sql<boolean>`exists (select 1 from organizations o where o.id = organization_id and o.deleted_at is null)`;

/**
 * Custom domains of organizations (`organization_domains`): the only place that writes SQL for them. Domains are
 * canonical (lower case) before they get here.
 */
export class OrganizationDomainsRepository {
  constructor(private readonly db: Kysely<CoreDatabase>) {}

  /** The organization a domain is attached to (whatever its status; the resolver checks that). */
  async organizationOf(domain: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('organization_domains')
      .select('organization_id')
      .where('domain', '=', domain)
      .executeTakeFirst();
    return row?.organization_id;
  }

  /** An organization's domains, alphabetically. */
  listOf(organizationId: number): Promise<OrganizationDomain[]> {
    return this.db
      .selectFrom('organization_domains')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('domain')
      .execute();
  }

  /**
   * Attaches a domain. Taken by a live organization (this one included): 409 DOMAIN_TAKEN, decided by the
   * primary key, so concurrent claims are safe; a row left behind by a deleted organization is taken over. An
   * organization with `max` domains already: 403 QUOTA_EXCEEDED (its row is locked while counting, so concurrent
   * additions queue up instead of all seeing room for one more).
   */
  async insert(organizationId: number, domain: string, max: number): Promise<OrganizationDomain> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        await trx
          .selectFrom('organizations')
          .select('id')
          .where('id', '=', organizationId)
          .forUpdate()
          .execute();
        const { count } = await trx
          .selectFrom('organization_domains')
          .select((eb) => eb.fn.countAll<string>().as('count'))
          .where('organization_id', '=', organizationId)
          .executeTakeFirstOrThrow();
        if (Number(count) >= max) {
          throw new AppError('QUOTA_EXCEEDED', `An organization may have at most ${max} domains`);
        }
        await trx
          .deleteFrom('organization_domains')
          .where('domain', '=', domain)
          .where(LIVE, '=', false)
          .execute();
        return trx
          .insertInto('organization_domains')
          .values({ domain, organization_id: organizationId })
          .returningAll()
          .executeTakeFirstOrThrow();
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('DOMAIN_TAKEN');
      throw error;
    }
  }

  /** Detaches one domain of an organization; false when it has no such domain. */
  async remove(organizationId: number, domain: string): Promise<boolean> {
    const removed = await this.db
      .deleteFrom('organization_domains')
      .where('organization_id', '=', organizationId)
      .where('domain', '=', domain)
      .executeTakeFirst();
    return removed.numDeletedRows > 0n;
  }

  /** Frees every domain of an organization (it was deleted); returns them. */
  async removeAllOf(organizationId: number): Promise<string[]> {
    const rows = await this.db
      .deleteFrom('organization_domains')
      .where('organization_id', '=', organizationId)
      .returning('domain')
      .execute();
    return rows.map((row) => row.domain);
  }
}
