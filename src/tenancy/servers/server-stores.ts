import type { TenantStore } from '../stores/tenant-store.js';
import type { ServerAddress } from '../placement/placement.js';
import { unregisteredServer, type ServerRegistry } from './server-registry.js';

/** The tenant store of each server: what TenantStorage creates, drops and opens tenant databases through. */
export interface StoreResolver {
  /** The store of the server at `address`. Throws a 503 AppError when no server is registered there. */
  storeFor(address: ServerAddress): Promise<TenantStore>;
  /** The stores of every registered server (orphan sweeps, template preparation). */
  all(): Promise<TenantStore[]>;
}

/** One store, one server: the single-server setup (and tests that hand TenantStorage a store of their own). */
export function singleStore(store: TenantStore): StoreResolver {
  return {
    storeFor: async (address) => {
      if (address !== store.server) throw unregisteredServer(address);
      return store;
    },
    all: async () => [store],
  };
}

/**
 * A store per registered server, made on first use and kept until `close()`: the configured (`default`) server's
 * is the `primary` store the app already has; others come from `create(url)`. Each PostgreSQL store holds a
 * small maintenance pool and its own template database on its server.
 *
 * @example
 * const store = await stores.storeFor(placement.address.server);
 * await store.create(placement.address.database);
 */
export class ServerStores implements StoreResolver {
  private readonly stores = new Map<ServerAddress, TenantStore>();

  constructor(
    private readonly registry: ServerRegistry,
    readonly primary: TenantStore,
    private readonly create: (url: string) => TenantStore,
  ) {
    this.stores.set(primary.server, primary);
  }

  async storeFor(address: ServerAddress): Promise<TenantStore> {
    const known = this.stores.get(address);
    if (known) return known;
    const url = await this.registry.urlOf(address);
    // Checked again after the await: a concurrent caller may have made it meanwhile.
    const raced = this.stores.get(address);
    if (raced) return raced;
    if (!url) throw unregisteredServer(address);
    const store = this.create(url);
    this.stores.set(address, store);
    return store;
  }

  async all(): Promise<TenantStore[]> {
    const servers = await this.registry.list();
    return Promise.all(servers.map((server) => this.storeFor(server.address)));
  }

  /** Closes every store but the primary (its owner closes it). */
  async close(): Promise<void> {
    const others = [...this.stores.values()].filter((store) => store !== this.primary);
    this.stores.clear();
    this.stores.set(this.primary.server, this.primary);
    await Promise.all(others.map((store) => store.close()));
  }
}
