import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Config } from '../../config.js';
import type { CoreDatabase } from '../../db/core-schema.js';
import { PostgresTenantStore } from '../stores/postgres-tenant-store.js';
import type { TenantStore } from '../stores/tenant-store.js';
import { PGLITE_SERVER, serverAddressOf } from '../placement/placement.js';
import { ServerRegistry, type ConfiguredServer } from './server-registry.js';
import { ServerStores } from './server-stores.js';
import { TenantServersRepository } from './tenant-servers.repository.js';

/** The registry of tenant servers and a store per server, as the app and the CLI both use them. */
export interface TenantServers {
  readonly registry: ServerRegistry;
  readonly stores: ServerStores;
  readonly rows: TenantServersRepository;
}

/** The server `default` stands for under this configuration. */
export function configuredServer(config: Config): ConfiguredServer {
  const url = config.databaseUrl ? (config.tenantDatabaseUrl ?? config.databaseUrl) : null;
  return { address: url === null ? PGLITE_SERVER : serverAddressOf(url), url };
}

/**
 * Wires the server registry over the core and a store per server around `primary` (the configured server's
 * store, made by createTenantStore). Opens no connection by itself.
 *
 * @example
 * const servers = createTenantServers(config, core.db, store, log);
 * const storage = new TenantStorage(store, connections, { sharedPerDatabase, stores: servers.stores });
 */
export function createTenantServers(
  config: Config,
  core: Kysely<CoreDatabase>,
  primary: TenantStore,
  log: FastifyBaseLogger,
): TenantServers {
  const rows = new TenantServersRepository(core);
  const registry = new ServerRegistry(rows, configuredServer(config));
  const stores = new ServerStores(
    registry,
    primary,
    (url) =>
      new PostgresTenantStore({
        coreDatabaseUrl: config.databaseUrl as string,
        serverUrl: url,
        log,
        statementTimeoutMs: config.databaseDdlTimeoutMs,
      }),
  );
  return { registry, stores, rows };
}
