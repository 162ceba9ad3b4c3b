import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { CoreDb } from '../db/core-database.js';
import type { AuditRecorder } from '../modules/audit/audit-recorder.js';
import { CoreUsersRepository } from '../modules/accounts/core-users.repository.js';
import { OrganizationsRepository } from '../modules/organizations/organizations.repository.js';
import { TenantUsersRepository } from '../modules/tenant-users/tenant-users.repository.js';
import { TenantConnectionManager } from '../tenancy/connections/connection-manager.js';
import { createTenantConnector } from '../tenancy/connections/connectors.js';
import { Provisioner } from '../tenancy/lifecycle/provisioner.js';
import { TenantMover, type TenantMoverDeps } from '../tenancy/lifecycle/tenant-mover.js';
import { TenantStorage } from '../tenancy/placement/tenant-storage.js';
import { createTenantServers, type TenantServers } from '../tenancy/servers/create-tenant-servers.js';
import { serverDirectory } from '../tenancy/servers/server-directory.js';
import { createTenantStore } from '../tenancy/stores/create-tenant-store.js';
import type { TenantStore } from '../tenancy/stores/tenant-store.js';

/** The tenant databases and how to reach them: what request routing is built on (see request-routing.ts). */
export interface TenantPlumbing {
  /** The configured (`default`) tenant server's store. */
  store: TenantStore;
  /** The registry of tenant servers and a store for each (tenancy/servers). */
  servers: TenantServers;
  connections: TenantConnectionManager;
  /** Tenants' storage by placement (dedicated databases, shared schemas). */
  storage: TenantStorage;
  /** The core's organization rows (one repository for everyone who reads or writes them). */
  organizations: OrganizationsRepository;
}

/**
 * What a move tells request routing: forget the organization once it switched (and, in a process that serves
 * requests, close its handles on the old copy before it is dropped).
 */
export type MoveRouting = Pick<TenantMoverDeps, 'invalidate' | 'beforeDrop'>;

export interface TenancyOptions<Routing extends MoveRouting> {
  config: Config;
  core: CoreDb;
  log: FastifyBaseLogger;
  /** Records moves (`organization.moved`). */
  audit: AuditRecorder;
  /**
   * Builds request routing over the plumbing. The server's is its tenant gateway, the CLI's an invalidation bus
   * to running servers (see request-routing.ts).
   */
  routing(plumbing: TenantPlumbing): Routing;
}

/** The tenancy services, the same for the server and the CLI. */
export interface Tenancy<Routing extends MoveRouting> extends TenantPlumbing {
  routing: Routing;
  /** Moves tenants between placements and servers (the CLI's `tenants move`; reconcile settles crashed ones). */
  mover: TenantMover;
  provisioner: Provisioner;
  /** Tenants' user rows (the provisioner writes each new tenant's owner through it). */
  tenantUsers: TenantUsersRepository;
  /** Closes the tenant connections and stores (not the core database, which its opener closes). */
  close(): Promise<void>;
}

/**
 * Wires the tenancy services (store, servers, connections, storage, routing, mover, provisioner) for the server
 * (src/services.ts) and the CLI (src/cli/cli-context.ts) alike; they differ only in `routing`. Opens no
 * connection by itself (the stores and pools connect lazily).
 */
export function createTenancy<Routing extends MoveRouting>(
  options: TenancyOptions<Routing>,
): Tenancy<Routing> {
  const { config, core, log } = options;
  const store = createTenantStore(config, log);
  const servers = createTenantServers(config, core.db, store, log);
  const connections = new TenantConnectionManager(
    createTenantConnector(config, store, (server) => servers.registry.urlOf(server)),
    config.tenantConnections,
  );
  const storage = new TenantStorage(store, connections, {
    sharedPerDatabase: config.tenantSharedPerDatabase,
    log,
    stores: servers.stores,
  });
  const organizations = new OrganizationsRepository(core.db);
  const routing = options.routing({ store, servers, connections, storage, organizations });
  const mover = new TenantMover({
    organizations,
    servers: serverDirectory(servers.registry, storage),
    log,
    invalidate: routing.invalidate,
    ...(routing.beforeDrop ? { beforeDrop: routing.beforeDrop } : {}),
    audit: options.audit,
  });
  const tenantUsers = new TenantUsersRepository();
  const provisioner = new Provisioner({
    organizations,
    storage,
    coreUsers: new CoreUsersRepository(core.db),
    tenantUsers,
    log,
    servers: servers.registry,
    moves: mover,
  });
  return {
    store,
    servers,
    connections,
    storage,
    organizations,
    routing,
    mover,
    provisioner,
    tenantUsers,
    async close() {
      // Spare shared schemas being made in the background use tenant connections: let them finish first.
      await storage.schemas.settle();
      await connections.close();
      await servers.stores.close();
      await store.close();
    },
  };
}
