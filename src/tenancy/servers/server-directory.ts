import type { ServerAddress } from '../placement/placement.js';
import type { TenantStorage } from '../placement/tenant-storage.js';
import { UnknownServerError, type ServerRegistry } from './server-registry.js';
import { DEFAULT_SERVER } from './tenant-server.js';

export { UnknownServerError };

/** The name of the zero-configuration tenant server (TENANT_DATABASE_URL, the core's server, or PGlite). */
export const DEFAULT_SERVER_NAME = DEFAULT_SERVER;

/**
 * The tenant servers as moves and imports see them: names (what an operator types) to addresses (what a
 * placement records) and back, and the one TenantStorage that sends each operation to the store of its
 * placement's server (tenancy/servers/server-stores.ts).
 *
 * @example
 * const target = await servers.addressOf('eu2');
 * const name = await servers.nameOf(placement.address.server); // 'default'
 */
export interface ServerDirectory {
  readonly storage: TenantStorage;
  /** The address of the server named `name`; throws UnknownServerError. */
  addressOf(name: string): Promise<ServerAddress>;
  /** The name of the server at `address`; throws UnknownServerError when none is registered there. */
  nameOf(address: ServerAddress): Promise<string>;
}

/** The registered servers (`tenant_servers`, with `default` standing for the configured one). */
export function serverDirectory(registry: ServerRegistry, storage: TenantStorage): ServerDirectory {
  return {
    storage,
    addressOf: (name) => registry.addressOf(name),
    async nameOf(address) {
      const server = await registry.atAddress(address);
      if (!server) throw new UnknownServerError(address);
      return server.name;
    },
  };
}
