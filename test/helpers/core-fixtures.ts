import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { openCoreDb, type CoreDb } from '../../src/db/core-database.js';
import type { CoreDatabase, NewOrganization, Organization } from '../../src/db/core-schema.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import type { TenantUser } from '../../src/db/tenant-schema.js';
import { CoreUsersRepository } from '../../src/modules/accounts/core-users.repository.js';
import { OrganizationsRepository } from '../../src/modules/organizations/organizations.repository.js';
import { TenantUsersRepository } from '../../src/modules/tenant-users/tenant-users.repository.js';
import { TenantConnectionManager } from '../../src/tenancy/connections/connection-manager.js';
import { createTenantConnector } from '../../src/tenancy/connections/connectors.js';
import { TenantStorage } from '../../src/tenancy/placement/tenant-storage.js';
import { Provisioner } from '../../src/tenancy/lifecycle/provisioner.js';
import { createTenantStore } from '../../src/tenancy/stores/create-tenant-store.js';
import type { TenantStore } from '../../src/tenancy/stores/tenant-store.js';
import { createTestEnv, type TestEnv } from './test-env.js';

/** A FastifyBaseLogger that drops everything. */
export function silentLogger(): FastifyBaseLogger {
  const noop = (): void => undefined;
  const logger: FastifyBaseLogger = {
    level: 'silent',
    fatal: noop,
    error: noop,
    warn: noop,
    info: noop,
    debug: noop,
    trace: noop,
    silent: noop,
    child: () => logger,
  };
  return logger;
}

/** A private environment with a migrated core database and a tenant store for the engine under test. */
export interface TenancyFixture extends TestEnv {
  core: CoreDb;
  store: TenantStore;
  /** The connection manager shared tenants are reached through. */
  connections: TenantConnectionManager;
  /** Tenants' storage by placement, over `store` and `connections`. */
  storage: TenantStorage;
  /** A provisioner over this fixture's storage (a faulty store may stand in for the real one). */
  provisioner(options?: { store?: TenantStore; failAfterStep?: string }): Provisioner;
  /** Closes the store and the core, then drops everything the env created. */
  close(): Promise<void>;
}

/**
 * @example
 * const fx = await createTenancyFixture();
 * after(() => fx.close());
 */
export async function createTenancyFixture(
  overrides: Record<string, string> = {},
  options: { engine?: 'pglite' | 'postgres' } = {},
): Promise<TenancyFixture> {
  const env = await createTestEnv(overrides, options);
  const core = await openCoreDb(env.config);
  await migrateToLatest(core.db, 'core');
  const store = createTenantStore(env.config, silentLogger());
  const connections = new TenantConnectionManager(
    createTenantConnector(env.config, store),
    env.config.tenantConnections,
  );
  const storageOver = (over: TenantStore) =>
    new TenantStorage(over, connections, { sharedPerDatabase: env.config.tenantSharedPerDatabase });
  const storage = storageOver(store);
  return {
    ...env,
    core,
    store,
    connections,
    storage,
    provisioner(options = {}) {
      return new Provisioner({
        organizations: new OrganizationsRepository(core.db),
        storage: options.store ? storageOver(options.store) : storage,
        coreUsers: new CoreUsersRepository(core.db),
        tenantUsers: new TenantUsersRepository(),
        log: silentLogger(),
        ...(options.failAfterStep === undefined ? {} : { failAfterStep: options.failAfterStep }),
      });
    },
    async close() {
      try {
        await storage.schemas.settle();
        await connections.close();
        await store.close();
        await core.close();
      } finally {
        await env.cleanup();
      }
    },
  };
}

let sequence = 0;

/** Inserts a verified owner core user with a unique email. */
export async function insertOwner(db: Kysely<CoreDatabase>): Promise<{ id: number; email: string }> {
  sequence += 1;
  return db
    .insertInto('core_users')
    .values({
      email: `owner${sequence}-${process.pid}@example.com`,
      password_hash: 'not-a-real-hash',
      is_owner: true,
      is_verified: true,
    })
    .returning(['id', 'email'])
    .executeTakeFirstOrThrow();
}

/** Inserts an organization row as the service layer does (status `provisioning`, nothing provisioned yet). */
export async function insertOrganization(
  db: Kysely<CoreDatabase>,
  values: Partial<NewOrganization> = {},
): Promise<Organization> {
  sequence += 1;
  const n = sequence; // taken before awaiting, so concurrent calls get distinct slugs
  const ownerId = values.owner_id ?? (await insertOwner(db)).id;
  return db
    .insertInto('organizations')
    .values({ name: `Org ${n}`, slug: `org-${n}`, ...values, owner_id: ownerId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The organization row as it is now. */
export async function organization(db: Kysely<CoreDatabase>, id: number): Promise<Organization> {
  return db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** Every tenant user of one tenant database (opened and closed around the read). */
export async function tenantUsers(store: TenantStore, name: string): Promise<TenantUser[]> {
  const handle = await store.open(name, { maxConnections: 1 });
  try {
    return await handle.db.selectFrom('tenant_users').selectAll().orderBy('id').execute();
  } finally {
    await handle.close();
  }
}

/**
 * The tenant databases that should exist: those of active and suspended organizations. After a
 * reconcile, `store.list()` must equal exactly this (no orphan, nothing missing).
 */
export async function expectedDatabases(db: Kysely<CoreDatabase>): Promise<string[]> {
  const rows = await db
    .selectFrom('organizations')
    .select('tenant_db_name')
    .where('status', 'in', ['active', 'suspended'])
    .execute();
  return rows.map((row) => row.tenant_db_name ?? `(org without a name)`).sort();
}
