import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { loadConfig, type Config } from '../config.js';
import { openCoreDb, type CoreDb } from '../db/core-database.js';
import { DirectoryLockedError } from '../db/dir-lock.js';
import { createRedis } from '../redis.js';
import { AuditRecorder } from '../modules/audit/audit-recorder.js';
import type { OrganizationsRepository } from '../modules/organizations/organizations.repository.js';
import type { TenantUsersRepository } from '../modules/tenant-users/tenant-users.repository.js';
import type { TenantStorage } from '../tenancy/placement/tenant-storage.js';
import type { Provisioner } from '../tenancy/lifecycle/provisioner.js';
import type { TenantMover } from '../tenancy/lifecycle/tenant-mover.js';
import { CoreAuditEventsRepository } from '../modules/audit/core-audit-events.repository.js';
import { TenantAuditEventsRepository } from '../modules/audit/tenant-audit-events.repository.js';
import type { TenantStore } from '../tenancy/stores/tenant-store.js';
import type { TenantServers } from '../tenancy/servers/create-tenant-servers.js';
import { busRouting } from '../composition/request-routing.js';
import { createTenancy } from '../composition/tenancy.js';
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
  /** Tenant users, in any tenant's storage (export and import read and write them). */
  tenantUsers: TenantUsersRepository;
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
  const redis = config.redisUrl ? createRedis(config.redisUrl, log) : null;
  const audit = new AuditRecorder({
    core: core.db,
    log,
    tenantEvents: new TenantAuditEventsRepository(),
    coreEvents: new CoreAuditEventsRepository(),
  });
  const tenancy = createTenancy({ config, core, log, audit, routing: busRouting(redis, log) });
  try {
    return await fn({
      config,
      core,
      store: tenancy.store,
      servers: tenancy.servers,
      storage: tenancy.storage,
      mover: tenancy.mover,
      provisioner: tenancy.provisioner,
      organizations: tenancy.organizations,
      tenantUsers: tenancy.tenantUsers,
      log,
      audit,
      invalidate: tenancy.routing.invalidate,
    });
  } finally {
    await tenancy.close();
    await core.close();
    if (redis) await redis.quit().catch(() => redis.disconnect());
  }
}
