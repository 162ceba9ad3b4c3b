import { sql, type Kysely, type Transaction } from 'kysely';
import type {
  CoreDatabase,
  MoveStep,
  Organization,
  OrganizationStatus,
  OrganizationUpdate,
  PlacementKind,
} from '../../db/core-schema.js';
import { AppError, isUniqueViolation } from '../../errors.js';
import type { PlacementColumns, ServerAddress } from '../../tenancy/placement/placement.js';
import { SLUG_PATTERN, type TenantRef } from '../../tenancy/routing/tenant-header.js';
import { slugFromName, suffixedSlug } from './slugs.js';

/** Organizations whose storage exists and is in use: what fleet migrations run over. */
export const MIGRATABLE = ['active', 'suspended'] as const satisfies readonly OrganizationStatus[];

/** Timestamps come from the database clock, the one grace periods are measured against. */
const NOW = sql<Date>`now()`;
/** Advisory lock key (core database) held while a shared database is chosen for a new tenant. */
export const PLACE_LOCK_KEY = '8387229622868211322';

/** True for rows changed within the last `graceMs` (never when it is 0). */
function recentlyUpdated(graceMs: number) {
  return graceMs > 0
    ? sql<boolean>`(updated_at > now() - ${graceMs} * interval '1 millisecond')`
    : sql<boolean>`false`;
}

/** The organization columns a tenant resolution reads. */
export type ResolvableOrganization = Pick<
  Organization,
  | 'id'
  | 'slug'
  | 'status'
  | 'allow_signup'
  | 'owner_id'
  | 'placement_kind'
  | 'placement'
  | 'tenant_db_name'
  | 'tenant_schema'
  | 'move_step'
>;

/** An organization row as orphan detection needs it. */
export interface StorageOwner {
  id: number;
  status: OrganizationStatus;
  tenant_db_name: string | null;
  tenant_schema: string | null;
  /** The recorded server (null: before servers were recorded, i.e. the configured one). */
  placement: string | null;
  /** Changed within the grace period: a provisioning or deletion may still be progressing elsewhere. */
  recent: boolean;
  /** The copy that is not live while a move is in progress (both copies are kept until it is settled). */
  move_step: MoveStep | null;
  move_placement_kind: PlacementKind | null;
  move_db_name: string | null;
  move_schema: string | null;
}

/** The columns naming a moving tenant's copy that is not live (see tenancy/lifecycle/tenant-mover.ts). */
export interface MoveColumns {
  move_placement_kind: PlacementKind;
  move_server: string;
  move_db_name: string;
  move_schema: string | null;
}

const OWNER_COLUMNS = [
  'id',
  'status',
  'tenant_db_name',
  'tenant_schema',
  'placement',
  'move_step',
  'move_placement_kind',
  'move_db_name',
  'move_schema',
] as const;

/** What a fleet migration records per tenant. */
export interface MigrationRecord {
  schema_version?: string | null;
  migration_state: 'ok' | 'failed';
  migration_error: string | null;
}

/** Work done in the transaction that inserts an organization, with the new row (e.g. recording an audit event). */
export type OnInsert = (trx: Transaction<CoreDatabase>, org: Organization) => Promise<void>;

/** Live shared tenants per shared database of `server` (ones moving there included), but organization `id`. */
async function sharedTenantCounts(
  db: Kysely<CoreDatabase>,
  server: ServerAddress,
  id: number,
): Promise<Map<string, number>> {
  const { rows } = await sql<{ database: string; tenants: string }>`
    select database, count(*)::text as tenants from (
      select tenant_db_name as database from organizations
       where placement_kind = 'shared' and placement = ${server} and status <> 'deleted'
         and tenant_db_name is not null and id <> ${id}
      union all
      select move_db_name from organizations
       where move_placement_kind = 'shared' and move_server = ${server} and status <> 'deleted' and id <> ${id}
    ) placed group by database`.execute(db);
  return new Map(rows.map((row) => [row.database, Number(row.tenants)]));
}

/**
 * Organization rows of the core database: the only place that writes SQL for them (the API, provisioning, the
 * resolver, fleet migrations and the operator CLI all come here).
 */
export class OrganizationsRepository {
  constructor(private readonly db: Kysely<CoreDatabase>) {}

  /** Runs `fn` in one core transaction; pass `trx` to this repository's methods that take one. */
  transaction<T>(fn: (trx: Transaction<CoreDatabase>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(fn);
  }

  /** Any organization by id, whatever its status. */
  findById(id: number): Promise<Organization | undefined> {
    return this.db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** A live (not deleted) organization by id or slug: what X-TENANT and the CLI name. */
  findLive(ref: TenantRef): Promise<Organization | undefined> {
    const query = this.db.selectFrom('organizations').selectAll().where('deleted_at', 'is', null);
    return (
      ref.kind === 'id' ? query.where('id', '=', ref.id) : query.where('slug', '=', ref.slug)
    ).executeTakeFirst();
  }

  /** The columns a request's tenant resolution needs, of a live organization by id or slug. */
  findResolvable(ref: TenantRef): Promise<ResolvableOrganization | undefined> {
    const query = this.db
      .selectFrom('organizations')
      .select([
        'id',
        'slug',
        'status',
        'allow_signup',
        'owner_id',
        'placement_kind',
        'placement',
        'tenant_db_name',
        'tenant_schema',
        'move_step',
      ])
      .where('deleted_at', 'is', null);
    return (
      ref.kind === 'id' ? query.where('id', '=', ref.id) : query.where('slug', '=', ref.slug)
    ).executeTakeFirst();
  }

  /** Every organization that is not deleted, optionally of one status, by id. */
  listLive(status?: OrganizationStatus): Promise<Organization[]> {
    let query = this.db
      .selectFrom('organizations')
      .selectAll()
      .where('status', '<>', 'deleted')
      .orderBy('id');
    if (status) query = query.where('status', '=', status);
    return query.execute();
  }

  /** Moves an organization from one status to another; undefined when it is not in `from` (any more). */
  setStatus(
    id: number,
    from: OrganizationStatus,
    to: OrganizationStatus,
    db: Kysely<CoreDatabase> = this.db,
  ): Promise<Organization | undefined> {
    return db
      .updateTable('organizations')
      .set({ status: to, updated_at: NOW })
      .where('id', '=', id)
      .where('status', '=', from)
      .returningAll()
      .executeTakeFirst();
  }

  // Provisioning (tenancy/lifecycle/provisioner.ts): every update is conditional on the status it expects, so a row another
  // process moved on is never overwritten.

  /** Records a completed provisioning step (and more columns); undefined when no longer provisioning. */
  recordStep(id: number, step: string, extra: OrganizationUpdate = {}): Promise<Organization | undefined> {
    return this.db
      .updateTable('organizations')
      .set({ ...extra, provisioning_step: step, updated_at: NOW })
      .where('id', '=', id)
      .where('status', '=', 'provisioning')
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Step `named`: `pickServer` picks the server given the live tenants per recorded server (null: rows from before
   * servers were recorded), then the placement `choose` picks is recorded, given how many live shared tenants each
   * shared database of that server holds. One transaction under a lock, so concurrent provisionings neither
   * overfill a shared database nor all pile onto the same emptiest server.
   */
  async recordPlacement(
    id: number,
    pickServer: (tenantsPerServer: ReadonlyMap<string | null, number>) => ServerAddress,
    choose: (sharedTenants: Map<string, number>, server: ServerAddress) => PlacementColumns,
  ): Promise<Organization | undefined> {
    return this.db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${PLACE_LOCK_KEY}::bigint)`.execute(trx);
      const perServer = await trx
        .selectFrom('organizations')
        .select(['placement', (eb) => eb.fn.countAll<string>().as('tenants')])
        .where('status', '<>', 'deleted')
        .where('tenant_db_name', 'is not', null)
        .where('id', '<>', id)
        .groupBy('placement')
        .execute();
      const server = pickServer(new Map(perServer.map((row) => [row.placement, Number(row.tenants)])));
      const counts = await sharedTenantCounts(trx, server, id);
      return trx
        .updateTable('organizations')
        .set({ ...choose(counts, server), provisioning_step: 'named', updated_at: NOW })
        .where('id', '=', id)
        .where('status', '=', 'provisioning')
        .returningAll()
        .executeTakeFirst();
    });
  }

  /** Provisioning finished: active at `version`; undefined when no longer provisioning. */
  activate(id: number, version: string): Promise<Organization | undefined> {
    return this.db
      .updateTable('organizations')
      .set({
        status: 'active',
        schema_version: version,
        migration_state: 'ok',
        migration_error: null,
        migrated_at: NOW,
        provisioning_error: null,
        updated_at: NOW,
      })
      .where('id', '=', id)
      .where('status', '=', 'provisioning')
      .returningAll()
      .executeTakeFirst();
  }

  /** A failed organization being retried: back to provisioning from `step`; undefined when no longer failed. */
  retry(id: number, step: string | null): Promise<Organization | undefined> {
    return this.db
      .updateTable('organizations')
      .set({ status: 'provisioning', provisioning_error: null, provisioning_step: step, updated_at: NOW })
      .where('id', '=', id)
      .where('status', '=', 'failed')
      .returningAll()
      .executeTakeFirst();
  }

  /** Provisioning failed: `failed`, with the error and the step it got to (only while still provisioning). */
  async markFailed(id: number, error: string, step: string | null): Promise<void> {
    await this.db
      .updateTable('organizations')
      .set({ status: 'failed', provisioning_error: error, provisioning_step: step, updated_at: NOW })
      .where('id', '=', id)
      .where('status', '=', 'provisioning')
      .execute();
  }

  /** Deletion starts: `deleting` (from any status but deleted). */
  async markDeleting(id: number): Promise<void> {
    await this.db
      .updateTable('organizations')
      .set({ status: 'deleting', updated_at: NOW })
      .where('id', '=', id)
      .where('status', '<>', 'deleted')
      .execute();
  }

  /** Deletion done: `deleted`, with its time (only from deleting). */
  async markDeleted(id: number): Promise<void> {
    await this.db
      .updateTable('organizations')
      .set({ status: 'deleted', deleted_at: NOW, updated_at: NOW })
      .where('id', '=', id)
      .where('status', '=', 'deleting')
      .execute();
  }

  /** Organizations stuck in provisioning or deleting, untouched for `graceMs`, by id. */
  listStuck(graceMs: number): Promise<{ id: number; status: OrganizationStatus }[]> {
    return this.db
      .selectFrom('organizations')
      .select(['id', 'status'])
      .where('status', 'in', ['provisioning', 'deleting'])
      .where(recentlyUpdated(graceMs), '=', false)
      .orderBy('id')
      .execute();
  }

  /** The organizations whose dedicated database is one of `databases` (whatever their status). */
  ownersOfDatabases(databases: string[], graceMs: number): Promise<StorageOwner[]> {
    return (
      this.db
        .selectFrom('organizations')
        .select([...OWNER_COLUMNS, recentlyUpdated(graceMs).as('recent')])
        // One array parameter rather than a parameter per database: there may be more than PostgreSQL's 65535.
        .where((eb) =>
          eb.or([
            eb.and([
              sql<boolean>`tenant_db_name = any(${databases}::text[])`,
              eb('placement_kind', '=', 'dedicated'),
            ]),
            eb.and([
              sql<boolean>`move_db_name = any(${databases}::text[])`,
              eb('move_placement_kind', '=', 'dedicated'),
            ]),
          ]),
        )
        .execute()
    );
  }

  /** The shared organizations of `server` among `ids` (whatever their status). */
  sharedOwners(ids: number[], server: ServerAddress, graceMs: number): Promise<StorageOwner[]> {
    return this.db
      .selectFrom('organizations')
      .select([...OWNER_COLUMNS, recentlyUpdated(graceMs).as('recent')])
      .where(sql<boolean>`id = any(${ids}::int[])`)
      .where((eb) =>
        eb.or([
          eb.and([eb('placement_kind', '=', 'shared'), eb('placement', '=', server)]),
          eb.and([eb('move_placement_kind', '=', 'shared'), eb('move_server', '=', server)]),
        ]),
      )
      .execute();
  }

  /** Failed organizations whose storage was dropped: a retry starts from `named`. */
  async resetFailedToNamed(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('organizations')
      .set({ provisioning_step: 'named', updated_at: NOW })
      .where('id', 'in', ids)
      .where('status', '=', 'failed')
      .execute();
  }

  // Moves (tenancy/lifecycle/tenant-mover.ts): each update is conditional on the step it expects, so two movers
  // of one tenant never both proceed.

  /**
   * Starts a move of an active tenant: `frozen`, naming the target chosen by `choose` (given the live shared
   * tenants per shared database of the target server, counted under the placement lock as for provisioning);
   * undefined when not active or moving already.
   */
  async beginMoveTo(
    id: number,
    server: ServerAddress,
    choose: (sharedTenants: Map<string, number>) => MoveColumns,
  ): Promise<Organization | undefined> {
    return this.db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${PLACE_LOCK_KEY}::bigint)`.execute(trx);
      const target = choose(await sharedTenantCounts(trx, server, id));
      return trx
        .updateTable('organizations')
        .set({ ...target, move_step: 'frozen', updated_at: NOW })
        .where('id', '=', id)
        .where('status', '=', 'active')
        .where('move_step', 'is', null)
        .returningAll()
        .executeTakeFirst();
    });
  }

  /** Records a move step done after `from`; undefined when the move is not at `from` (any more). */
  recordMoveStep(id: number, from: MoveStep, to: MoveStep): Promise<Organization | undefined> {
    return this.db
      .updateTable('organizations')
      .set({ move_step: to, updated_at: NOW })
      .where('id', '=', id)
      .where('move_step', '=', from)
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * The switch, one UPDATE: the tenant's placement becomes the target, and the move columns name the old copy
   * (to be dropped); only from `copied`.
   */
  switchPlacement(
    id: number,
    target: PlacementColumns,
    old: MoveColumns,
    /** Work that commits with the switch (the `organization.moved` audit event). */
    onSwitch?: OnInsert,
  ): Promise<Organization | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const org = await trx
        .updateTable('organizations')
        .set({ ...target, ...old, move_step: 'switched', updated_at: NOW })
        .where('id', '=', id)
        .where('move_step', '=', 'copied')
        .returningAll()
        .executeTakeFirst();
      if (org) await onSwitch?.(trx, org);
      return org;
    });
  }

  /** A running move's heartbeat: keeps reconcile (which settles moves untouched for its grace) off it. */
  async touchMove(id: number): Promise<void> {
    await this.db
      .updateTable('organizations')
      .set({ updated_at: NOW })
      .where('id', '=', id)
      .where('move_step', 'is not', null)
      .execute();
  }

  /** The move is settled (the copy that was not live is gone): no move state left. */
  endMove(id: number): Promise<Organization | undefined> {
    return this.db
      .updateTable('organizations')
      .set({
        move_step: null,
        move_placement_kind: null,
        move_server: null,
        move_db_name: null,
        move_schema: null,
        updated_at: NOW,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Organizations with a move in progress untouched for `graceMs`, by id. */
  listMoving(graceMs: number): Promise<Organization[]> {
    return this.db
      .selectFrom('organizations')
      .selectAll()
      .where('move_step', 'is not', null)
      .where(recentlyUpdated(graceMs), '=', false)
      .orderBy('id')
      .execute();
  }

  // Fleet migrations (tenancy/fleet/fleet-migrator.ts).

  /** Organizations whose storage exists and is in use (active, suspended), optionally just one, by id. */
  listMigratable(ref?: TenantRef): Promise<Organization[]> {
    let query = this.db
      .selectFrom('organizations')
      .selectAll()
      .where('status', 'in', MIGRATABLE)
      .orderBy('id');
    if (ref) query = ref.kind === 'id' ? query.where('id', '=', ref.id) : query.where('slug', '=', ref.slug);
    return query.execute();
  }

  /** Records the outcome of migrating one tenant. */
  async recordMigration(id: number, values: MigrationRecord): Promise<void> {
    await this.db
      .updateTable('organizations')
      .set({ ...values, migrated_at: new Date(), updated_at: new Date() })
      .where('id', '=', id)
      .execute();
  }

  /** Organizations that are not deleted, counted by schema version, migration state and status. */
  async migrationGroups(): Promise<
    {
      schema_version: string | null;
      migration_state: string | null;
      status: OrganizationStatus;
      count: number;
    }[]
  > {
    const groups = await this.db
      .selectFrom('organizations')
      .select(['schema_version', 'migration_state', 'status', (eb) => eb.fn.countAll<number>().as('count')])
      .where('status', '<>', 'deleted')
      .groupBy(['schema_version', 'migration_state', 'status'])
      .orderBy('status')
      .orderBy('schema_version')
      .execute();
    return groups.map((group) => ({ ...group, count: Number(group.count) }));
  }

  /** Migratable organizations whose last migration failed, by id. */
  listMigrationFailures() {
    return this.db
      .selectFrom('organizations')
      .select(['id', 'slug', 'schema_version', 'migration_error', 'migrated_at'])
      .where('migration_state', '=', 'failed')
      .where('status', 'in', MIGRATABLE)
      .orderBy('id')
      .execute();
  }

  // The API (organizations.service.ts).

  /**
   * Inserts a new organization in `provisioning`; a live organization with the same slug is 409 SLUG_TAKEN.
   * With `maxPerOwner`, an owner who already has that many organizations that are not deleted gets 403
   * QUOTA_EXCEEDED. The owner's row is locked while counting, so concurrent creations by one owner queue up
   * instead of all seeing room for one more.
   */
  async insert(
    values: { name: string; slug: string; owner_id: number; placement_kind?: PlacementKind },
    maxPerOwner: number | null = null,
    onInsert?: OnInsert,
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
        const org = await trx
          .insertInto('organizations')
          .values({ ...values, status: 'provisioning' })
          .returningAll()
          .executeTakeFirstOrThrow();
        await onInsert?.(trx, org);
        return org;
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
    options: { maxPerOwner?: number | null; placement?: PlacementKind; onInsert?: OnInsert } = {},
  ): Promise<Organization> {
    const maxPerOwner = options.maxPerOwner ?? null;
    const placement_kind = options.placement ?? 'dedicated';
    if (given !== undefined) {
      if (!SLUG_PATTERN.test(given)) {
        throw new AppError('VALIDATION_ERROR', 'Invalid body: /slug must match ^[a-z][a-z0-9-]{1,62}$', {
          errors: [{ path: '/slug', message: 'must match ^[a-z][a-z0-9-]{1,62}$' }],
        });
      }
      return this.insert(
        { name, slug: given, owner_id: ownerId, placement_kind },
        maxPerOwner,
        options.onInsert,
      );
    }
    const base = slugFromName(name);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.insert(
          { name, slug: attempt === 0 ? base : suffixedSlug(base), owner_id: ownerId, placement_kind },
          maxPerOwner,
          options.onInsert,
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

  update(
    id: number,
    changes: { name?: string; allow_signup?: boolean },
    db: Kysely<CoreDatabase> = this.db,
  ): Promise<Organization> {
    return db
      .updateTable('organizations')
      .set({ ...changes, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
