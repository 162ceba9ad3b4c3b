import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import { AppError } from '../../errors.js';
import type { TenantConnectionManager } from '../connections/connection-manager.js';
import { InvalidationBus } from './invalidation-bus.js';
import type { TenantPlacement } from '../placement/placement.js';
import { openTenantHandle } from '../connections/tenant-handle.js';
import { forgetBindings } from '../connections/schema-binding.js';
import type { SharedTenantNames } from '../placement/placement-names.js';
import type { TenantContext } from './tenant-context.js';
import type { ResolvableRow, ResolvedTenant, TenantResolver } from './tenant-resolver.js';
import type { HostTarget } from './host-target.js';
import { parseTenantHeader } from './tenant-header.js';
import { selectTenant } from './tenant-selection.js';

const MAX_HANDLES = 10_000;

/**
 * The only way into a tenant database: resolves X-TENANT and hands back a context whose `db` reaches that
 * tenant's database and no other.
 */
export class TenantGateway {
  private readonly handles = new Map<string, Kysely<TenantDatabase>>();
  /** One context per resolved tenant (the resolver's cache keeps the same object until it changes). */
  private readonly contexts = new WeakMap<ResolvedTenant, TenantContext>();

  private readonly bus: InvalidationBus;

  private readonly sharedNames: SharedTenantNames;

  constructor(
    private readonly resolver: TenantResolver,
    private readonly manager: TenantConnectionManager,
    options: { redis?: Redis | null; log: FastifyBaseLogger; sharedNames: SharedTenantNames },
  ) {
    this.sharedNames = options.sharedNames;
    this.bus = new InvalidationBus(
      (orgId, slug, domain) => {
        resolver.invalidate(orgId, slug, domain);
        // Its schema may have been dropped and made again (a move): connections bound to it bind afresh.
        forgetBindings(options.sharedNames.schema(orgId));
      },
      options.redis ?? null,
      options.log,
    );
  }

  /** Starts receiving other processes' invalidations (with Redis). */
  start(): void {
    this.bus.start();
  }

  /**
   * Call after changing an organization's status, slug, settings or domains (`domain`: one attached or
   * removed): this process forgets it at once, other processes through Redis pub/sub (or when their short cache
   * TTL expires).
   */
  invalidate(orgId: number, slug?: string, domain?: string): void {
    this.bus.invalidate(orgId, slug, domain);
  }

  /**
   * The tenant a request selects by its X-TENANT value and its host (see selectTenant: 400 TENANT_CONFLICT when
   * they name different organizations), bound; null for the core plane.
   */
  async select(header: string | undefined, host: HostTarget | null): Promise<TenantContext | null> {
    const ref = header === undefined ? undefined : parseTenantHeader(header);
    const [fromHost, fromHeader] = await Promise.all([
      host ? this.resolver.lookup(host) : null,
      ref ? this.resolver.lookup(ref) : undefined,
    ]);
    const tenant = selectTenant(fromHost, ref ? { tenant: fromHeader ?? null } : undefined);
    return tenant && this.cachedContext(tenant);
  }

  /** `select` without waiting when every lookup it needs is cached; else undefined. */
  selectCached(header: string | undefined, host: HostTarget | null): TenantContext | null | undefined {
    const ref = header === undefined ? undefined : parseTenantHeader(header);
    const fromHeader = ref && this.resolver.lookupCached(ref);
    if (ref && !fromHeader) return undefined;
    const fromHost = host && this.resolver.lookupCached(host);
    if (host && !fromHost) return undefined;
    const tenant = selectTenant(fromHost ? fromHost.value : null, fromHeader && { tenant: fromHeader.value });
    return tenant && this.cachedContext(tenant);
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
  contextFor(tenant: ResolvedTenant): TenantContext {
    const { placement } = tenant;
    if (!placement) throw new AppError('TENANT_NOT_READY', undefined, { headers: { 'retry-after': '5' } });
    return { ...tenant, placement, db: this.handle(placement) };
  }

  /** A context for an organization row already read and known to be active (the owner's token exchange). */
  contextForOrganization(row: ResolvableRow): TenantContext {
    return this.contextFor(this.resolver.fromRow(row));
  }

  /**
   * A Kysely handle on one tenant's tables (cached; it holds no connection of its own): its database, or for a
   * shared tenant its schema, bound to its role so that no other tenant's schema can be read or written.
   */
  handle(placement: TenantPlacement): Kysely<TenantDatabase> {
    const key = placement.key;
    let db = this.handles.get(key);
    if (db) {
      this.handles.delete(key);
      this.handles.set(key, db);
      return db;
    }
    db = openTenantHandle(this.manager, placement, this.sharedNames);
    this.handles.set(key, db);
    if (this.handles.size > MAX_HANDLES) {
      const oldest = this.handles.keys().next().value;
      if (oldest !== undefined) this.handles.delete(oldest);
    }
    return db;
  }

  /**
   * Before a tenant's data is dropped: forgets it, and closes its dedicated database's connections (a shared
   * database's connections serve its neighbours and stay).
   */
  async close(orgId: number, placement: TenantPlacement, waiterError?: () => AppError): Promise<void> {
    this.invalidate(orgId);
    this.handles.delete(placement.key);
    if (placement.kind === 'dedicated')
      await this.manager.closeTenant(placement.address, undefined, waiterError);
  }

  get connections(): TenantConnectionManager {
    return this.manager;
  }

  /** Stops receiving invalidations (connections are closed by the connection manager's own close). */
  stop(): Promise<void> {
    return this.bus.close();
  }
}
