import type { TenantServerState } from '../../db/core-schema.js';
import { PGLITE_SERVER } from '../placement/placement.js';
import { probeServer } from './server-probe.js';
import type { ServerRegistry } from './server-registry.js';
import { parseServerUrl, redactUrl, ServerUrlError } from './server-url.js';
import { DEFAULT_SERVER, SERVER_NAME, type TenantServer } from './tenant-server.js';
import type { TenantServersRepository } from './tenant-servers.repository.js';

/** A refused server operation; `reason` tells the CLI which exit code it is. Messages hold no password. */
export class ServerAdminError extends Error {
  constructor(
    message: string,
    readonly reason: 'invalid' | 'not-found' | 'conflict' | 'unreachable',
  ) {
    super(message);
    this.name = 'ServerAdminError';
  }
}

/** A server as shown to operators: never its password. */
export interface ServerView {
  name: string;
  address: string;
  /** The URL with its password replaced by `***`; null for the embedded engine. */
  url: string | null;
  weight: number;
  state: TenantServerState;
  created_at: string;
}

/** A server with what lives there and what it is doing. */
export interface ServerReport extends ServerView {
  /** Organizations placed there that are not deleted (the core's count). */
  tenants: number;
  /** Distinct tenant databases those tenants use (dedicated ones, plus shared databases). */
  databases: number;
  /** Whether the server answered just now (null: not asked, the embedded engine). */
  reachable: boolean | null;
  /**
   * Tenant connections of this deployment on the server, every app process together, from the server's
   * `pg_stat_activity` (application_name `tenantry-tenant`); null when it cannot be seen: the embedded engine
   * (connections live inside the one app process: see its /metrics) or an unreachable server.
   */
  connections: { open: number; active: number } | null;
}

export function viewOf(server: TenantServer): ServerView {
  return {
    name: server.name,
    address: server.address,
    url: server.url === null ? null : redactUrl(server.url),
    weight: server.weight,
    state: server.state,
    created_at: server.createdAt.toISOString(),
  };
}

/** A pg error's message with any occurrence of the password masked (belt and braces: pg never echoes it). */
function safeMessage(error: unknown, url: string): string {
  const text = error instanceof Error ? error.message : String(error);
  const password = decodeURIComponent(new URL(url).password);
  return password === '' ? text : text.split(password).join('***');
}

/**
 * What `tenantry servers …` does: add, list, drain, activate and remove tenant servers. Every answer and error
 * is password-free.
 *
 * @example
 * const admin = new ServerAdmin(registry, rows, 'tenantry');
 * await admin.add('eu2', 'postgres://app:secret@10.0.0.7:5432/postgres', 2);
 */
export class ServerAdmin {
  constructor(
    private readonly registry: ServerRegistry,
    private readonly rows: TenantServersRepository,
    /** The core database's name: tenant databases on every server are prefixed with it. */
    private readonly coreDatabase: string,
  ) {}

  /** Registers a server after checking its URL, that it answers, and that its role may create databases. */
  async add(name: string, urlText: string, weight = 1): Promise<ServerView> {
    if (this.registry.configured.address === PGLITE_SERVER) {
      throw new ServerAdminError(
        'The embedded engine has one tenant server (pglite): tenant servers can be added only with DATABASE_URL ' +
          '(PostgreSQL)',
        'invalid',
      );
    }
    if (!SERVER_NAME.test(name)) {
      throw new ServerAdminError(
        `Invalid server name "${name}": lower-case letters, digits, "-" and "_", starting with a letter, at most 40`,
        'invalid',
      );
    }
    if (!Number.isInteger(weight) || weight < 1 || weight > 1000) {
      throw new ServerAdminError('The weight must be a whole number from 1 to 1000', 'invalid');
    }
    let parsed;
    try {
      parsed = parseServerUrl(urlText);
    } catch (error) {
      if (error instanceof ServerUrlError) throw new ServerAdminError(error.message, 'invalid');
      throw error;
    }
    const servers = await this.registry.list();
    if (servers.some((server) => server.name === name)) {
      throw new ServerAdminError(`A tenant server named "${name}" exists already`, 'conflict');
    }
    const twin = servers.find((server) => server.address === parsed.address);
    if (twin) {
      throw new ServerAdminError(`${parsed.address} is registered already, as "${twin.name}"`, 'conflict');
    }
    let probe;
    try {
      probe = await probeServer(parsed.url, this.coreDatabase);
    } catch (error) {
      throw new ServerAdminError(
        `Cannot reach ${parsed.redacted}: ${safeMessage(error, parsed.url)}`,
        'unreachable',
      );
    }
    if (!probe.canCreateDatabases) {
      throw new ServerAdminError(
        `The role of ${parsed.redacted} lacks CREATEDB: tenant databases could not be created there`,
        'invalid',
      );
    }
    if (!(await this.rows.insert({ name, url: parsed.url, weight }))) {
      throw new ServerAdminError(`A tenant server named "${name}" exists already`, 'conflict');
    }
    const added = await this.registry.find(name);
    if (!added) throw new ServerAdminError(`Tenant server "${name}" vanished meanwhile`, 'conflict');
    return viewOf(added);
  }

  /** Every server with its tenants, databases and connections (each server asked at once, each bounded). */
  async list(): Promise<ServerReport[]> {
    const servers = await this.registry.list();
    const counts = await this.rows.tenantsPerServer();
    const configured = this.registry.configured.address;
    return Promise.all(
      servers.map(async (server) => {
        let tenants = 0;
        let databases = 0;
        for (const row of counts) {
          // Rows from before servers were recorded are on the configured server.
          if ((row.placement ?? configured) !== server.address) continue;
          tenants += row.tenants;
          databases += row.databases;
        }
        let reachable: boolean | null = null;
        let connections: ServerReport['connections'] = null;
        if (server.url !== null) {
          try {
            connections = (await probeServer(server.url, this.coreDatabase)).connections;
            reachable = true;
          } catch {
            reachable = false;
          }
        }
        return { ...viewOf(server), tenants, databases, reachable, connections };
      }),
    );
  }

  /** `draining`: the server keeps its tenants and receives no new one. */
  drain(name: string): Promise<ServerView> {
    return this.setState(name, 'draining');
  }

  /** Back to `active`: the placement policy may choose it again. */
  activate(name: string): Promise<ServerView> {
    return this.setState(name, 'active');
  }

  /** Unregisters a server with no live tenant; `default` (the configuration's) cannot be removed. */
  async remove(name: string): Promise<void> {
    if (name === DEFAULT_SERVER) {
      throw new ServerAdminError(
        'The default server is the configured one (TENANT_DATABASE_URL or the core server): it cannot be removed; ' +
          'drain it instead',
        'invalid',
      );
    }
    const server = await this.registry.find(name);
    if (!server) throw new ServerAdminError(`No tenant server named "${name}"`, 'not-found');
    const outcome = await this.rows.removeIfEmpty(name, server.address);
    if (outcome === 'missing') throw new ServerAdminError(`No tenant server named "${name}"`, 'not-found');
    if (outcome === 'in-use') {
      throw new ServerAdminError(
        `Tenant server "${name}" still holds tenants: move them elsewhere first (it can be drained meanwhile)`,
        'conflict',
      );
    }
  }

  private async setState(name: string, state: TenantServerState): Promise<ServerView> {
    if (!(await this.rows.setState(name, state))) {
      throw new ServerAdminError(`No tenant server named "${name}"`, 'not-found');
    }
    const server = await this.registry.find(name);
    if (!server) throw new ServerAdminError(`No tenant server named "${name}"`, 'not-found');
    return viewOf(server);
  }
}
