import type { FastifyBaseLogger } from 'fastify';
import { NO_MIGRATIONS, type Kysely } from 'kysely';
import type { PlacementKind } from '../../db/core-schema.js';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import type { TenantConnectionManager } from '../connections/connection-manager.js';
import { SharedSchemas } from './shared-schemas.js';
import { openTenantHandle } from '../connections/tenant-handle.js';
import { assertMigrated, createMigrator } from '../../db/migrator.js';
import { ensureTenantSchema } from '../fleet/tenant-migrations.js';
import type { TenantStore } from '../stores/tenant-store.js';
import { movedAway } from '../connections/moved-away.js';
import { singleStore, type StoreResolver } from '../servers/server-stores.js';
import {
  dedicatedPlacement,
  sharedPlacement,
  type ServerAddress,
  type TenantPlacement,
} from './placement.js';

export interface TenantStorageOptions {
  /** Tenants per shared database before the next one is opened (TENANT_SHARED_PER_DATABASE). */
  sharedPerDatabase: number;
  /** Where background work (spare shared schemas) reports failures. */
  log?: FastifyBaseLogger;
  /** The store of each tenant server (tenancy/servers); by default `store` alone, for its one server. */
  stores?: StoreResolver;
}

/**
 * A tenant's storage by placement: the one place that branches on dedicated vs shared. Dedicated tenants are
 * whole databases of the tenant store (copied from its template); shared tenants are a schema and a role inside
 * a shared database (SharedSchemas), reached through the connection manager.
 *
 * @example
 * const placement = storage.place(org.id, 'shared', counts); // e.g. tenantry_shared_1 / t_42
 * await storage.create(placement, org.id);
 */
export class TenantStorage {
  readonly schemas: SharedSchemas;
  /** The store of each server; placements on a server not registered answer 503. */
  readonly stores: StoreResolver;

  /**
   * `store` is the configured (`default`) server's: the fallback for rows recorded before servers were, and the
   * source of names (database, schema and role names are the same on every server: they come from the core
   * database's name and the organization id).
   */
  constructor(
    readonly store: TenantStore,
    private readonly manager: TenantConnectionManager,
    private readonly options: TenantStorageOptions,
  ) {
    this.schemas = new SharedSchemas(manager, store.sharedNames, options.log);
    this.stores = options.stores ?? singleStore(store);
  }

  /** The store of the server a placement is on. */
  storeOf(placement: TenantPlacement): Promise<TenantStore> {
    return this.stores.storeFor(placement.address.server);
  }

  /**
   * Where a new tenant goes. Dedicated: its own database, named by its id. Shared: its schema in the
   * lowest-numbered shared database of this server holding fewer than `sharedPerDatabase` live tenants (the next
   * number when all are full). `sharedTenants` counts the live shared tenants of `server` per database name (the
   * caller takes it under a lock: OrganizationsRepository.recordPlacement); shared databases are numbered per
   * server.
   */
  place(
    orgId: number,
    kind: PlacementKind,
    sharedTenants: ReadonlyMap<string, number>,
    server: ServerAddress = this.store.server,
  ): TenantPlacement {
    if (kind === 'dedicated') return dedicatedPlacement(server, this.store.databaseName(orgId));
    let n = 1;
    while ((sharedTenants.get(this.store.sharedDatabaseName(n)) ?? 0) >= this.options.sharedPerDatabase) n++;
    return sharedPlacement(server, this.store.sharedDatabaseName(n), this.store.sharedNames.schema(orgId));
  }

  /**
   * Creates the tenant's storage at the latest tenant migration; idempotent. Returns the version a shared tenant
   * was just migrated to; null for a dedicated database (a copy of the template: `migrate` confirms its version).
   */
  async create(placement: TenantPlacement, orgId: number): Promise<string | null> {
    const store = await this.storeOf(placement);
    if (placement.kind === 'dedicated') {
      await store.create(placement.address.database);
      return null;
    }
    await store.ensureSharedDatabase(placement.address.database);
    return this.schemas.create(placement, orgId);
  }

  /** Drops the tenant's storage and nothing else; idempotent. */
  async drop(placement: TenantPlacement, orgId: number): Promise<void> {
    if (placement.kind === 'dedicated')
      return (await this.storeOf(placement)).drop(placement.address.database);
    if (!(await this.sharedDatabaseExists(placement))) return;
    await this.schemas.drop(placement, orgId);
  }

  async exists(placement: TenantPlacement): Promise<boolean> {
    if (placement.kind === 'dedicated')
      return (await this.storeOf(placement)).exists(placement.address.database);
    return (await this.sharedDatabaseExists(placement)) && this.schemas.exists(placement);
  }

  /** Brings the tenant to the latest tenant migration; returns what was applied and the version it is at. */
  async migrate(placement: TenantPlacement, orgId: number): Promise<{ applied: string[]; version: string }> {
    if (placement.kind === 'shared') return this.schemas.migrate(placement, orgId);
    // Unbounded: a long migration is not an outage.
    const handle = await (
      await this.storeOf(placement)
    ).open(placement.address.database, { maxConnections: 1 });
    try {
      return await ensureTenantSchema(handle.db);
    } finally {
      await handle.close();
    }
  }

  /**
   * `migrate` for a tenant whose handle is open already (provisioning, with `withTenant`): a dedicated database
   * through that handle, a shared tenant in a transaction of its own.
   */
  async migrateOpen(placement: TenantPlacement, orgId: number, db: Kysely<TenantDatabase>): Promise<string> {
    if (placement.kind === 'shared') return (await this.schemas.migrate(placement, orgId)).version;
    return (await ensureTenantSchema(db)).version;
  }

  /**
   * Rolls the tenant back one migration, or to `to` (a migration name, or "none"); returns the version it is at
   * afterwards (null: none applied).
   */
  async rollback(placement: TenantPlacement, orgId: number, to?: string): Promise<string | null> {
    if (placement.kind === 'shared') return this.schemas.rollback(placement, orgId, to);
    const handle = await (
      await this.storeOf(placement)
    ).open(placement.address.database, { maxConnections: 1 });
    try {
      const migrator = createMigrator(handle.db, 'tenant');
      const result =
        to === undefined
          ? await migrator.migrateDown()
          : await migrator.migrateTo(to === 'none' ? NO_MIGRATIONS : to);
      assertMigrated('tenant', result);
      const executed = (await migrator.getMigrations()).filter((m) => m.executedAt !== undefined);
      return executed[executed.length - 1]?.name ?? null;
    } finally {
      await handle.close();
    }
  }

  /**
   * Runs `fn` with a handle on the tenant's tables. Dedicated: a connection of its own, each statement bounded by
   * DATABASE_DDL_TIMEOUT_MS (provisioning is on a request's path). Shared: through the connection manager, bound
   * to the tenant's role and schema like any request.
   */
  async withTenant<T>(
    placement: TenantPlacement,
    fn: (db: Kysely<TenantDatabase>) => Promise<T>,
  ): Promise<T> {
    if (placement.kind === 'shared') {
      return fn(openTenantHandle(this.manager, placement, this.store.sharedNames));
    }
    const store = await this.storeOf(placement);
    const handle = await store.open(placement.address.database, { maxConnections: 1, bounded: true });
    try {
      return await fn(handle.db);
    } finally {
      await handle.close();
    }
  }

  /**
   * A handle on the tenant's tables through the connection manager, whatever its kind (moves and exports: on the
   * embedded engine a database is open once per process, and the manager may hold it already).
   */
  handle(placement: TenantPlacement): Kysely<TenantDatabase> {
    return openTenantHandle(this.manager, placement, this.store.sharedNames);
  }

  /**
   * `drop`, after closing this process's connections to a dedicated database (they would keep it open); the
   * manager forgets the database afterwards, so the same address may be used again (a tenant moved back).
   */
  async dropClosingConnections(placement: TenantPlacement, orgId: number): Promise<void> {
    if (placement.kind === 'shared') return this.drop(placement, orgId);
    await this.manager.closeTenant(placement.address, undefined, movedAway);
    try {
      await this.drop(placement, orgId);
    } finally {
      this.manager.reopen(placement.address);
    }
  }

  private async sharedDatabaseExists(placement: TenantPlacement): Promise<boolean> {
    return (await (await this.storeOf(placement)).listSharedDatabases()).includes(placement.address.database);
  }
}
