import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import type { TenantDatabase } from '../db/tenant-schema.js';
import { AppError } from '../errors.js';
import type { ConnectionLease, QueryClient, TenantConnectionManager } from './connection-manager.js';
import { InvalidationBus } from './invalidation-bus.js';
import type { TenantContext } from './tenant-context.js';
import type { ResolvedTenant, TenantResolver } from './tenant-resolver.js';

const MAX_HANDLES = 10_000;

/** What Kysely's PostgresDialect gets from a checkout: one per physical connection, the current lease inside. */
interface ManagedClient {
  query: QueryClient['query'];
  release(): void;
  lease: ConnectionLease | null;
}

/**
 * A Kysely "pool" whose every checkout goes through the connection manager, so each query (or transaction)
 * holds a budgeted connection only while it runs. A physical connection always comes back as the same client
 * object: Kysely keys its connection wrappers by that object, and would otherwise make a new one per query.
 */
function managedPool(manager: TenantConnectionManager, dbName: string): PostgresPool {
  const clients = new WeakMap<QueryClient, ManagedClient>();
  return {
    async connect() {
      const lease = await manager.acquire(dbName);
      let client = clients.get(lease.client);
      if (!client) {
        const managed: ManagedClient = {
          query: lease.client.query.bind(lease.client),
          lease: null,
          release() {
            const current = managed.lease;
            managed.lease = null;
            current?.release();
          },
        };
        clients.set(lease.client, managed);
        client = managed;
      }
      client.lease = lease;
      return client as unknown as Awaited<ReturnType<PostgresPool['connect']>>;
    },
    async end() {
      // Connections belong to the manager; nothing to end here.
    },
  };
}

/**
 * The only way into a tenant database: resolves X-TENANT and hands back a context whose `db` reaches that
 * tenant's database and no other.
 */
export class TenantGateway {
  private readonly handles = new Map<string, Kysely<TenantDatabase>>();
  /** One context per resolved tenant (the resolver's cache keeps the same object until it changes). */
  private readonly contexts = new WeakMap<ResolvedTenant, TenantContext>();

  private readonly bus: InvalidationBus;

  constructor(
    private readonly resolver: TenantResolver,
    private readonly manager: TenantConnectionManager,
    options: { redis?: Redis | null; log: FastifyBaseLogger },
  ) {
    this.bus = new InvalidationBus(
      (orgId, slug) => resolver.invalidate(orgId, slug),
      options.redis ?? null,
      options.log,
    );
  }

  /** Starts receiving other processes' invalidations (with Redis). */
  start(): void {
    this.bus.start();
  }

  /**
   * Call after changing an organization's status, slug or settings: this process forgets it at once, other
   * processes through Redis pub/sub (or when their short cache TTL expires).
   */
  invalidate(orgId: number, slug?: string): void {
    this.bus.invalidate(orgId, slug);
  }

  /** Resolves an X-TENANT value (400/404/503/403 as the contract says) to a bound tenant context. */
  async enter(header: string): Promise<TenantContext> {
    return this.cachedContext(await this.resolver.resolve(header));
  }

  /** `enter` without waiting when the resolution is cached (see TenantResolver.resolveCached); else undefined. */
  enterCached(header: string): TenantContext | undefined {
    const tenant = this.resolver.resolveCached(header);
    return tenant && this.cachedContext(tenant);
  }

  private cachedContext(tenant: ResolvedTenant): TenantContext {
    let context = this.contexts.get(tenant);
    if (!context) {
      context = this.contextFor(tenant);
      this.contexts.set(tenant, context);
    }
    return context;
  }

  /** A context for an organization already known to be active (e.g. the owner's token exchange). */
  contextFor(tenant: Omit<TenantContext, 'db' | 'dbName'> & { dbName: string | null }): TenantContext {
    const { dbName } = tenant;
    if (!dbName) throw new AppError('TENANT_NOT_READY', undefined, { headers: { 'retry-after': '5' } });
    return { ...tenant, dbName, db: this.handle(dbName) };
  }

  /** A Kysely handle on one tenant database (cached; it holds no connection of its own). */
  handle(dbName: string): Kysely<TenantDatabase> {
    let db = this.handles.get(dbName);
    if (db) {
      this.handles.delete(dbName);
      this.handles.set(dbName, db);
      return db;
    }
    db = new Kysely<TenantDatabase>({
      dialect: new PostgresDialect({ pool: managedPool(this.manager, dbName) }),
    });
    this.handles.set(dbName, db);
    if (this.handles.size > MAX_HANDLES) {
      const oldest = this.handles.keys().next().value;
      if (oldest !== undefined) this.handles.delete(oldest);
    }
    return db;
  }

  /** Closes a tenant database's connections before it is dropped, and forgets it. */
  async close(orgId: number, dbName: string): Promise<void> {
    this.invalidate(orgId);
    this.handles.delete(dbName);
    await this.manager.closeTenant(dbName);
  }

  get connections(): TenantConnectionManager {
    return this.manager;
  }

  /** Stops receiving invalidations (connections are closed by the connection manager's own close). */
  stop(): Promise<void> {
    return this.bus.close();
  }
}
