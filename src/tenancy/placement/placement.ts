/**
 * Where a tenant's data lives: `{server, database, schema}`.
 *
 * - `dedicated`: a database of its own (`schema` null: the tables are in `public`).
 * - `shared`: a schema (`t_<id>`) of a database that holds many small tenants; connections to that database
 *   serve any of them, each unit of work bound to the tenant's schema and role (see connections/schema-binding.ts).
 *
 * The core records a placement on the organization row (`placement_kind`, `placement` = server,
 * `tenant_db_name` = database, `tenant_schema`); the request path reads it from there.
 */

import type { PlacementKind } from '../../db/core-schema.js';

export type { PlacementKind };
export const PLACEMENT_KINDS: readonly PlacementKind[] = ['dedicated', 'shared'];

declare const serverBrand: unique symbol;
/**
 * A PostgreSQL server as the core records it, without credentials: `postgres://host:port`, or `pglite` for the
 * embedded engine (`DATA_DIR/tenants`).
 */
export type ServerAddress = string & { readonly [serverBrand]: true };

/** The embedded engine's only "server". */
export const PGLITE_SERVER = 'pglite' as ServerAddress;

/** `postgres://host:port` of a connection URL (credentials, database and options dropped). */
export function serverAddressOf(url: string): ServerAddress {
  const parsed = new URL(url);
  const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
  return `postgres://${host}:${parsed.port || '5432'}` as ServerAddress;
}

/** A string read back from the core: a server address if it has the shape of one. */
export function parseServerAddress(text: string): ServerAddress {
  if (text === PGLITE_SERVER || /^postgres:\/\/[^/@\s]+:\d{1,5}$/.test(text)) return text as ServerAddress;
  throw new TypeError(`Not a server address: "${text}"`);
}

/** One database on one server: what a connection is opened to, and what the connection budget is kept per. */
export interface DatabaseAddress {
  readonly server: ServerAddress;
  readonly database: string;
  /** A shared database serves many tenants, so it may hold more connections than a dedicated one. */
  readonly shared: boolean;
  /** `server/database`: the key connections are pooled and budgeted by. */
  readonly key: string;
}

export function databaseAddress(server: ServerAddress, database: string, shared = false): DatabaseAddress {
  return { server, database, shared, key: `${server}/${database}` };
}

/** Where one tenant lives. */
export interface TenantPlacement {
  readonly kind: PlacementKind;
  readonly address: DatabaseAddress;
  /** The tenant's schema in a shared database; null for a dedicated database. */
  readonly schema: string | null;
  /** Unique per tenant: the database key, plus the schema for a shared tenant. */
  readonly key: string;
}

export function dedicatedPlacement(server: ServerAddress, database: string): TenantPlacement {
  const address = databaseAddress(server, database, false);
  return { kind: 'dedicated', address, schema: null, key: address.key };
}

export function sharedPlacement(server: ServerAddress, database: string, schema: string): TenantPlacement {
  const address = databaseAddress(server, database, true);
  return { kind: 'shared', address, schema, key: `${address.key}/${schema}` };
}

export function isPlacementKind(value: string): value is PlacementKind {
  return (PLACEMENT_KINDS as readonly string[]).includes(value);
}

/** The placement columns of an organization row. */
export interface PlacementColumns {
  placement_kind: PlacementKind;
  placement: string | null;
  tenant_db_name: string | null;
  tenant_schema: string | null;
}

/**
 * The placement an organization row records, or null while provisioning has not named one yet. Rows written
 * before placements had a server recorded `placement` null: `fallbackServer` (the configured tenant server)
 * stands in.
 */
export function placementFromRow(
  row: PlacementColumns,
  fallbackServer: ServerAddress,
): TenantPlacement | null {
  if (row.tenant_db_name === null) return null;
  const server = row.placement === null ? fallbackServer : parseServerAddress(row.placement);
  if (row.placement_kind === 'shared') {
    if (row.tenant_schema === null) throw new TypeError('A shared placement without a schema');
    return sharedPlacement(server, row.tenant_db_name, row.tenant_schema);
  }
  return dedicatedPlacement(server, row.tenant_db_name);
}

/** The columns that record a placement (for an UPDATE of the organization row). */
export function placementColumns(placement: TenantPlacement): PlacementColumns {
  return {
    placement_kind: placement.kind,
    placement: placement.address.server,
    tenant_db_name: placement.address.database,
    tenant_schema: placement.schema,
  };
}
