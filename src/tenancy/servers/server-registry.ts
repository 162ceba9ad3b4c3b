import { AppError } from '../../errors.js';
import { parseServerUrl } from './server-url.js';
import { DEFAULT_SERVER, type TenantServer } from './tenant-server.js';
import type { TenantServerRow, TenantServersRepository } from './tenant-servers.repository.js';
import type { ServerAddress } from '../placement/placement.js';

/** The configured server `default` stands for: TENANT_DATABASE_URL, the core's server, or the embedded engine. */
export interface ConfiguredServer {
  readonly address: ServerAddress;
  /** With credentials; null for the embedded engine. */
  readonly url: string | null;
}

/** A server name the registry does not hold. */
export class UnknownServerError extends Error {
  constructor(readonly serverName: string) {
    super(`No tenant server named "${serverName}"`);
    this.name = 'UnknownServerError';
  }
}

/**
 * The tenant servers as the running code sees them: the `tenant_servers` rows, with `default` standing for the
 * configured server. The one way from a server name to its address (`addressOf`) and from an address to its
 * connection URL (`urlOf`, for connectors and stores only: it holds credentials).
 *
 * Lists are read fresh from the core (placement reads them once per new organization); `urlOf` keeps what it
 * learnt, since a server's URL does not change under a name (remove and add it again to change it, once empty).
 *
 * @example
 * const address = await registry.addressOf('eu2'); // 'postgres://10.0.0.7:5432'
 */
export class ServerRegistry {
  private readonly urls = new Map<ServerAddress, string | null>();

  constructor(
    private readonly rows: TenantServersRepository,
    readonly configured: ConfiguredServer,
  ) {
    this.urls.set(configured.address, configured.url);
  }

  /** Every registered server, by name (`default` first only if its name sorts first). */
  async list(): Promise<TenantServer[]> {
    const rows = await this.rows.list();
    // `default` is registered by a core migration; a core restored without the row still has its server.
    if (!rows.some((row) => row.name === DEFAULT_SERVER)) {
      rows.unshift({ name: DEFAULT_SERVER, url: null, weight: 1, state: 'active', created_at: new Date(0) });
    }
    const servers = rows.map((row) => this.toServer(row));
    for (const server of servers) this.urls.set(server.address, server.url);
    return servers;
  }

  /** The server of a name, or undefined. */
  async find(name: string): Promise<TenantServer | undefined> {
    return (await this.list()).find((server) => server.name === name);
  }

  /**
   * The address organization rows record for the server `name`.
   *
   * @throws UnknownServerError
   */
  async addressOf(name: string): Promise<ServerAddress> {
    const server = await this.find(name);
    if (!server) throw new UnknownServerError(name);
    return server.address;
  }

  /** The server registered at `address`, or undefined. */
  async atAddress(address: ServerAddress): Promise<TenantServer | undefined> {
    return (await this.list()).find((server) => server.address === address);
  }

  /**
   * The connection URL (with credentials) of the server at `address`; undefined when none is registered there;
   * null for the embedded engine.
   */
  async urlOf(address: ServerAddress): Promise<string | null | undefined> {
    if (this.urls.has(address)) return this.urls.get(address);
    await this.list();
    return this.urls.get(address);
  }

  private toServer(row: TenantServerRow): TenantServer {
    const base = { name: row.name, weight: row.weight, state: row.state, createdAt: row.created_at };
    if (row.url === null) return { ...base, address: this.configured.address, url: this.configured.url };
    return { ...base, ...parseServerUrl(row.url) };
  }
}

/** The 503 of a tenant whose server is not (or no longer) in the registry: an outage, not a bad request. */
export function unregisteredServer(address: ServerAddress): AppError {
  return new AppError('SERVICE_UNAVAILABLE', `Tenant server ${address} is not registered`, {
    headers: { 'retry-after': '5' },
  });
}
