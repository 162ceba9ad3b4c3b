import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { loadConfig, type Config } from '../config.js';
import { openCoreDb, type CoreDb } from '../db/core-database.js';
import { DirectoryLockedError } from '../db/dir-lock.js';
import { createRedis } from '../redis.js';
import { InvalidationBus } from '../tenancy/routing/invalidation-bus.js';
import { CoreUsersRepository } from '../modules/accounts/core-users.repository.js';
import { AuditRecorder } from '../modules/audit/audit-recorder.js';
import { CoreAuditEventsRepository } from '../modules/audit/core-audit-events.repository.js';
import { TenantAuditEventsRepository } from '../modules/audit/tenant-audit-events.repository.js';
import { OrganizationsRepository } from '../modules/organizations/organizations.repository.js';
import { TenantUsersRepository } from '../modules/tenant-users/tenant-users.repository.js';
import { TenantConnectionManager } from '../tenancy/connections/connection-manager.js';
import { createTenantConnector } from '../tenancy/connections/connectors.js';
import { TenantStorage } from '../tenancy/placement/tenant-storage.js';
import { Provisioner } from '../tenancy/lifecycle/provisioner.js';
import { TenantMover } from '../tenancy/lifecycle/tenant-mover.js';
import { serverDirectory } from '../tenancy/servers/server-directory.js';
import { createTenantStore } from '../tenancy/stores/create-tenant-store.js';
import type { TenantStore } from '../tenancy/stores/tenant-store.js';
import { createTenantServers, type TenantServers } from '../tenancy/servers/create-tenant-servers.js';
import { CliError, EXIT } from './cli-error.js';

/** What commands work with: the core database, the tenant store, and a way to tell running servers of changes. */
export interface CliContext {
  config: Config;
  core: CoreDb;
  /** The configured (`default`) tenant server's store. */
  store: TenantStore;
  /** The registry of tenant servers and a store for each. */
  servers: TenantServers;
  /** Tenants' storage by placement; shared databases are reached through a connection manager of the CLI's own. */
  storage: TenantStorage;
  provisioner: Provisioner;
  /** Moves tenants; reconcile (provisioner) settles moves left half-done through it. */
  mover: TenantMover;
  /** The core's organization rows. */
  organizations: OrganizationsRepository;
  log: FastifyBaseLogger;
  /** Records core audit events of operator actions (actor null: the CLI has no user). */
  audit: AuditRecorder;
  /** Tells running servers (through Redis, when configured) that an organization changed. */
  invalidate(orgId: number, slug?: string): void;
}

/**
 * Opens what a command needs and closes it afterwards. Logs go to stderr (warnings only unless LOG_LEVEL says
 * otherwise), so stdout stays clean for `--json`.
 */
export async function withCliContext<T>(
  fn: (context: CliContext) => Promise<T>,
  /** Settings this command overrides over the environment (e.g. its statement timeouts). */
  overrides: Record<string, string> = {},
): Promise<T> {
  const config = loadConfig({ ...process.env, ...overrides });
  const log = pino(
    { level: process.env.LOG_LEVEL ? config.logLevel : 'warn' },
    pino.destination({ dest: 2, sync: true }),
  ) as unknown as FastifyBaseLogger;
  let core: CoreDb;
  try {
    core = await openCoreDb(config);
  } catch (error) {
    if (error instanceof DirectoryLockedError) {
      throw new CliError(
        `${error.message} With the embedded database, stop the server before running this command.`,
        EXIT.BUSY,
      );
    }
    throw error;
  }
  const store = createTenantStore(config, log);
  const servers = createTenantServers(config, core.db, store, log);
  const connections = new TenantConnectionManager(
    createTenantConnector(config, store, (server) => servers.registry.urlOf(server)),
    config.tenantConnections,
  );
  const organizations = new OrganizationsRepository(core.db);
  const storage = new TenantStorage(store, connections, {
    sharedPerDatabase: config.tenantSharedPerDatabase,
    log,
    stores: servers.stores,
  });
  const redis = config.redisUrl ? createRedis(config.redisUrl, log) : null;
  const bus = new InvalidationBus(() => undefined, redis, log);
  const audit = new AuditRecorder({
    core: core.db,
    log,
    tenantEvents: new TenantAuditEventsRepository(),
    coreEvents: new CoreAuditEventsRepository(),
  });
  const mover = new TenantMover({
    organizations,
    servers: serverDirectory(servers.registry, storage),
    log,
    invalidate: (orgId, slug) => bus.invalidate(orgId, slug),
    audit,
  });
  try {
    return await fn({
      config,
      core,
      store,
      servers,
      storage,
      mover,
      provisioner: new Provisioner({
        organizations,
        storage,
        coreUsers: new CoreUsersRepository(core.db),
        tenantUsers: new TenantUsersRepository(),
        log,
        servers: servers.registry,
        moves: mover,
      }),
      organizations,
      log,
      audit,
      invalidate: (orgId, slug) => bus.invalidate(orgId, slug),
    });
  } finally {
    await storage.schemas.settle();
    await connections.close();
    await servers.stores.close();
    await store.close();
    await core.close();
    if (redis) await redis.quit().catch(() => redis.disconnect());
  }
}
