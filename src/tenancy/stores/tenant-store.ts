import type { Kysely } from 'kysely';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import type { ServerAddress } from '../placement/placement.js';
import type { SharedTenantNames } from '../placement/placement-names.js';

export {
  MissingPrivilegeError,
  TenantDatabaseMissingError,
  TenantNamingError,
} from './tenant-store-errors.js';

/** An open tenant database. Close it when done: it holds a pool (PostgreSQL) or an instance and its lock (PGlite). */
export interface TenantDbHandle {
  readonly db: Kysely<TenantDatabase>;
  close(): Promise<void>;
}

/**
 * Creates, lists, opens and drops the databases of one tenant server: the only engine-specific part of tenancy.
 * Dedicated tenant databases are named by `databaseName(orgId)`, shared ones by `sharedDatabaseName(n)`; every
 * method validates the name it is given and refuses anything else (the template, the core database, user input).
 * What lives inside a shared database (tenant schemas and roles) is engine-independent SQL: placement/shared-schemas.ts.
 */
export interface TenantStore {
  readonly engine: 'pglite' | 'postgres';
  /** The server new tenant databases are placed on (recorded in organizations.placement). */
  readonly server: ServerAddress;
  /** Schema and role names of shared tenants on this server. */
  readonly sharedNames: SharedTenantNames;
  /** Checks privileges (CREATEDB) and brings the template to the latest tenant migration. Idempotent. */
  prepare(): Promise<void>;
  /** The database name for an organization id. */
  databaseName(orgId: number): string;
  /** Creates the tenant database from the template; idempotent (already exists → no error). */
  create(name: string): Promise<void>;
  exists(name: string): Promise<boolean>;
  /** Drops it (closing/terminating its connections first); idempotent. */
  drop(name: string): Promise<void>;
  /** Names of every tenant database that exists (for orphan detection). */
  list(): Promise<string[]>;
  /** The name of shared database number `n` (n ≥ 1). */
  sharedDatabaseName(n: number): string;
  /** The number of a shared database name of this store, or null when it is not one. */
  sharedDatabaseNumber(name: string): number | null;
  /**
   * Creates a shared database (empty: tenants get schemas in it) unless it exists, with nothing granted to PUBLIC
   * on its `public` schema. Idempotent.
   */
  ensureSharedDatabase(name: string): Promise<void>;
  /** Names of every shared database that exists. */
  listSharedDatabases(): Promise<string[]>;
  /** Opens a handle on one tenant database (or a shared one, for tools that read it whole). PostgreSQL: a pg.Pool of at most `maxConnections` (default 4). PGlite: the instance (+ its dir lock). */
  open(name: string, options?: OpenOptions): Promise<TenantDbHandle>;
  /** Closes every handle it opened and its own connections. */
  close(): Promise<void>;
}

/** How `TenantStore.open` opens a database. */
export interface OpenOptions {
  /** PostgreSQL: at most this many connections (default 4). */
  maxConnections?: number;
  /**
   * PostgreSQL: each statement bounded by `DATABASE_DDL_TIMEOUT_MS` (provisioning, on a request's path);
   * migrations leave it off: a long migration is not an outage.
   */
  bounded?: boolean;
}
