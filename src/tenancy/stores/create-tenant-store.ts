import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../config.js';
import { PgliteTenantStore } from './pglite-tenant-store.js';
import { PostgresTenantStore } from './postgres-tenant-store.js';
import type { TenantStore } from './tenant-store.js';

/**
 * The tenant store for the configured engine: PostgreSQL when `DATABASE_URL` is set (tenants on
 * `TENANT_DATABASE_URL`'s server if given), otherwise PGlite directories under `DATA_DIR/tenants`.
 * Opens no connection until used.
 *
 * @example
 * const store = createTenantStore(config, app.log);
 * await store.prepare(); // at start-up: fails clearly without CREATEDB
 */
export function createTenantStore(config: Config, log: FastifyBaseLogger): TenantStore {
  if (config.databaseUrl) {
    return new PostgresTenantStore({
      coreDatabaseUrl: config.databaseUrl,
      serverUrl: config.tenantDatabaseUrl ?? config.databaseUrl,
      log,
      statementTimeoutMs: config.databaseDdlTimeoutMs,
    });
  }
  return new PgliteTenantStore({ dataDir: config.dataDir, settings: config.pglite, log });
}
