import { sql, type Kysely } from 'kysely';
import type { CoreDatabase, TenantServerState } from '../../db/core-schema.js';
import { SQLSTATE, sqlState } from '../../errors.js';
import { PLACE_LOCK_KEY } from '../../modules/organizations/organizations.repository.js';

/** A `tenant_servers` row. `url` holds credentials (null for `default`): never print it. */
export interface TenantServerRow {
  name: string;
  url: string | null;
  weight: number;
  state: TenantServerState;
  created_at: Date;
}

/** Live tenants (not deleted, with a placement) per recorded server address; null: rows from before servers. */
export interface TenantsOnServer {
  placement: string | null;
  tenants: number;
  databases: number;
}

/**
 * The one repository of `tenant_servers`. Its rows change rarely (an operator's CLI command), so nothing caches
 * them across commands; the placement policy reads them fresh for each new organization.
 *
 * @example
 * await servers.insert({ name: 'eu2', url, weight: 2 });
 * await servers.setState('eu2', 'draining');
 */
export class TenantServersRepository {
  constructor(private readonly db: Kysely<CoreDatabase>) {}

  list(): Promise<TenantServerRow[]> {
    return this.db.selectFrom('tenant_servers').selectAll().orderBy('name').execute();
  }

  find(name: string): Promise<TenantServerRow | undefined> {
    return this.db.selectFrom('tenant_servers').selectAll().where('name', '=', name).executeTakeFirst();
  }

  /** Inserts a server; false when the name is taken. */
  async insert(row: { name: string; url: string; weight: number }): Promise<boolean> {
    try {
      await this.db.insertInto('tenant_servers').values(row).execute();
      return true;
    } catch (error) {
      if (sqlState(error) === SQLSTATE.UNIQUE_VIOLATION) return false;
      throw error;
    }
  }

  /** Sets a server's state; false when there is no such server. */
  async setState(name: string, state: TenantServerState): Promise<boolean> {
    const result = await this.db
      .updateTable('tenant_servers')
      .set({ state })
      .where('name', '=', name)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Deletes a server unless an organization that is not deleted is recorded on `address` (checked in the same
   * statement, so a tenant placed meanwhile is not orphaned). Returns the outcome.
   */
  async removeIfEmpty(name: string, address: string): Promise<'removed' | 'missing' | 'in-use'> {
    return this.db.transaction().execute(async (trx) => {
      // The placement lock (OrganizationsRepository.recordPlacement): no tenant is being placed meanwhile.
      await sql`select pg_advisory_xact_lock(${PLACE_LOCK_KEY}::bigint)`.execute(trx);
      const used = await trx
        .selectFrom('organizations')
        .select('id')
        .where('placement', '=', address)
        .where('status', '<>', 'deleted')
        .limit(1)
        .executeTakeFirst();
      if (used) return 'in-use';
      const result = await trx.deleteFrom('tenant_servers').where('name', '=', name).executeTakeFirst();
      return result.numDeletedRows > 0n ? 'removed' : 'missing';
    });
  }

  /** Tenants and databases per recorded server address (organizations not deleted). */
  async tenantsPerServer(): Promise<TenantsOnServer[]> {
    const rows = await this.db
      .selectFrom('organizations')
      .select([
        'placement',
        (eb) => eb.fn.countAll<string>().as('tenants'),
        sql<string>`count(distinct tenant_db_name)`.as('databases'),
      ])
      .where('status', '<>', 'deleted')
      .where('tenant_db_name', 'is not', null)
      .groupBy('placement')
      .execute();
    return rows.map((row) => ({
      placement: row.placement,
      tenants: Number(row.tenants),
      databases: Number(row.databases),
    }));
  }
}
