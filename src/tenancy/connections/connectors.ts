import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';
import type { Config, PgliteSettings } from '../../config.js';
import { acquireDirLock, DirectoryLockedError } from '../../db/dir-lock.js';
import { openPglite, POOL_DEFAULTS } from '../../db/pools.js';
import { boundedQuery, endClient } from '../../db/query-deadline.js';
import { AppError, sqlState, SQLSTATE } from '../../errors.js';
import type { TenantConnection, TenantConnector } from './connection-manager.js';
import {
  PGLITE_SERVER,
  serverAddressOf,
  type DatabaseAddress,
  type ServerAddress,
} from '../placement/placement.js';
import { PGLITE_TENANT_NAME, pgliteSharedNumber, urlForDatabase } from '../placement/placement-names.js';
import type { TenantStore } from '../stores/tenant-store.js';

/** A database the core lists as active but the server does not have is an outage, not a bad request. */
function missingDatabase(database: DatabaseAddress, cause?: unknown): AppError {
  return new AppError('SERVICE_UNAVAILABLE', `Tenant database ${database.key} is unavailable`, {
    headers: { 'retry-after': '5' },
    cause,
  });
}

/**
 * Wraps a connected `pg.Client`, noting when the server drops it (or a query outlives `queryTimeoutMs` and the
 * connection is cut) so it is never handed out again.
 */
function wrapClient(
  client: pg.Client,
  queryTimeoutMs: number,
  onClose: () => Promise<void>,
): TenantConnection {
  let broken = false;
  // Without a listener an idle client's socket error would crash the process.
  client.on('error', () => (broken = true));
  client.on('end', () => (broken = true));
  return {
    client: { query: boundedQuery(client, queryTimeoutMs, () => (broken = true)) },
    get broken() {
      return broken;
    },
    close: onClose,
  };
}

/** The connection URL (with credentials) of a tenant server; undefined (or null) when none is known there. */
export type ServerUrlLookup = (server: ServerAddress) => Promise<string | null | undefined>;

/**
 * One `pg.Client` per connection, straight to the tenant database on its tenant server; each query bounded by
 * `queryTimeoutMs` (0: unbounded). `servers` is one server's URL, or a lookup of every registered server's
 * (tenancy/servers/server-registry.ts): a placement on a server it does not know answers 503.
 */
export function postgresConnector(servers: string | ServerUrlLookup, queryTimeoutMs = 0): TenantConnector {
  const urlOf: ServerUrlLookup =
    typeof servers === 'string'
      ? async (server) => (server === serverAddressOf(servers) ? servers : undefined)
      : servers;
  return {
    async connect(database) {
      const serverUrl = await urlOf(database.server);
      if (!serverUrl) throw missingDatabase(database);
      const client = new pg.Client({
        connectionString: urlForDatabase(serverUrl, database.database),
        connectionTimeoutMillis: POOL_DEFAULTS.connectionTimeoutMillis,
        application_name: 'tenantry-tenant',
      });
      // Listening before connecting: the server may end the session in the very packet that completes the login
      // (pg_terminate_backend, a shutdown), before `await` hands the client back; unheard, that kills the process.
      const connection = wrapClient(client, queryTimeoutMs, () => endClient(client));
      try {
        await client.connect();
      } catch (error) {
        await client.end().catch(() => undefined);
        if (sqlState(error) === SQLSTATE.INVALID_CATALOG_NAME) throw missingDatabase(database, error);
        throw error;
      }
      return connection;
    },
  };
}

/**
 * One PGlite instance per tenant directory (`DATA_DIR/tenants/<name>`), locked like every embedded database.
 * The instance is the connection: PGlite runs one query at a time.
 */
export function pgliteConnector(dataDir: string, settings: PgliteSettings): TenantConnector {
  const root = join(dataDir, 'tenants');
  return {
    async connect(database) {
      const name = database.database;
      const valid = PGLITE_TENANT_NAME.test(name) || pgliteSharedNumber(name) !== null;
      if (database.server !== PGLITE_SERVER || !valid) throw missingDatabase(database);
      const dir = join(root, name);
      // PGlite would initdb a fresh, empty database in a missing directory: refuse instead.
      if (!existsSync(dir)) throw missingDatabase(database);
      let release: () => void;
      try {
        release = acquireDirLock(join(root, `${name}.lock`));
      } catch (error) {
        // Another process (a CLI migration, say) has this embedded database open: busy, not broken.
        if (error instanceof DirectoryLockedError) throw missingDatabase(database, error);
        throw error;
      }
      try {
        const pglite = await openPglite(settings, { dataDir: dir });
        const client = new pg.Client(createPgConfig(pglite));
        await client.connect();
        // PGlite runs in this process: nothing to bound (see query-deadline.ts).
        return wrapClient(client, 0, async () => {
          try {
            await client.end().catch(() => undefined);
            await pglite.close();
          } finally {
            release();
          }
        });
      } catch (error) {
        release();
        throw error;
      }
    },
  };
}

/**
 * The connector for the configured engine, reaching the same databases the store creates: on PostgreSQL, every
 * server `servers` knows (the server registry), or the configured tenant server alone.
 */
export function createTenantConnector(
  config: Config,
  store: TenantStore,
  servers?: ServerUrlLookup,
): TenantConnector {
  if (store.engine === 'postgres') {
    return postgresConnector(
      servers ?? config.tenantDatabaseUrl ?? (config.databaseUrl as string),
      config.databaseQueryTimeoutMs,
    );
  }
  return pgliteConnector(config.dataDir, config.pglite);
}
