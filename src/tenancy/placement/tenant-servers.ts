import type { ServerAddress } from './placement.js';
import type { TenantStorage } from './tenant-storage.js';

/** The name of the zero-configuration tenant server (TENANT_DATABASE_URL, the core's server, or PGlite). */
export const DEFAULT_SERVER_NAME = 'default';

/** A server name the registry does not know. */
export class UnknownServerError extends Error {
  constructor(readonly serverName: string) {
    super(`No tenant server named "${serverName}"`);
    this.name = 'UnknownServerError';
  }
}

/**
 * The tenant servers a process can reach, by name: where moves and imports find "the tenant storage on server X"
 * (create, drop, migrate, handles). The seam a server registry plugs into: moves and imports never hold a
 * TenantStorage of their own, they ask this.
 *
 * @example
 * const target = servers.storage('default');
 * const name = servers.nameOf(placement.address.server); // 'default'
 */
export interface TenantServers {
  /** The storage of the server named `name`; throws UnknownServerError. */
  storage(name: string): TenantStorage;
  /** The name of the server at `address`; throws UnknownServerError when none is registered there. */
  nameOf(address: ServerAddress): string;
}

/** One tenant server, `default`: the configured tenant store (no registry). */
export class SingleTenantServer implements TenantServers {
  constructor(private readonly only: TenantStorage) {}

  storage(name: string): TenantStorage {
    if (name !== DEFAULT_SERVER_NAME) throw new UnknownServerError(name);
    return this.only;
  }

  nameOf(address: ServerAddress): string {
    if (address !== this.only.store.server) throw new UnknownServerError(address);
    return DEFAULT_SERVER_NAME;
  }
}
