import type { Kysely } from 'kysely';
import type { CoreDatabase, OrganizationStatus } from '../db/core-schema.js';
import { AppError } from '../errors.js';
import { parseTenantHeader, type TenantRef } from './tenant-header.js';

/** What a request needs to know about its tenant once the header is resolved. */
export interface ResolvedTenant {
  readonly id: number;
  readonly slug: string;
  readonly status: OrganizationStatus;
  readonly allowSignup: boolean;
  readonly ownerId: number;
  readonly dbName: string | null;
}

interface CacheEntry {
  tenant: ResolvedTenant | null;
  expiresAt: number;
}

export interface TenantResolverOptions {
  /** How long a lookup is trusted; invalidation makes changes in this process visible at once. */
  ttlMs?: number;
  /** Most cached lookups; the oldest are dropped beyond it. */
  maxEntries?: number;
}

/**
 * Resolves X-TENANT values (id or slug) to organizations, with a small bounded TTL cache keyed by the exact
 * reference. Only usable tenants pass: unknown or deleted → 404, provisioning or failed → 503, suspended → 403.
 *
 * @example
 * const tenant = await resolver.resolve('acme'); // throws AppError('TENANT_NOT_FOUND') etc.
 */
export class TenantResolver {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly db: Kysely<CoreDatabase>,
    options: TenantResolverOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  async resolve(header: string): Promise<ResolvedTenant> {
    const ref = parseTenantHeader(header);
    const tenant = await this.lookup(ref);
    return assertUsable(tenant);
  }

  /**
   * `resolve` without waiting, when the answer is cached (the common case): the usable tenant, or the same error
   * `resolve` would throw; undefined when only a lookup can tell.
   */
  resolveCached(header: string): ResolvedTenant | undefined {
    const cached = this.cache.get(cacheKey(parseTenantHeader(header)));
    if (!cached || cached.expiresAt <= Date.now()) return undefined;
    return assertUsable(cached.tenant);
  }

  /** The organization behind a reference, whatever its status (null when unknown or deleted). */
  async lookup(ref: TenantRef): Promise<ResolvedTenant | null> {
    const key = cacheKey(ref);
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.tenant;
    const row = await this.db
      .selectFrom('organizations')
      .select(['id', 'slug', 'status', 'allow_signup', 'owner_id', 'tenant_db_name'])
      .where(ref.kind === 'id' ? 'id' : 'slug', '=', ref.kind === 'id' ? ref.id : ref.slug)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    const tenant: ResolvedTenant | null = row
      ? {
          id: row.id,
          slug: row.slug,
          status: row.status,
          allowSignup: row.allow_signup,
          ownerId: row.owner_id,
          dbName: row.tenant_db_name,
        }
      : null;
    this.remember(key, tenant);
    return tenant;
  }

  private remember(key: string, tenant: ResolvedTenant | null): void {
    this.cache.delete(key);
    this.cache.set(key, { tenant, expiresAt: Date.now() + this.ttlMs });
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  /**
   * Forgets everything cached about an organization (status, slug or settings changed, or it was deleted), and
   * the lookup of `slug` too: a slug that was unknown (or belonged to a deleted organization) may now be taken.
   */
  invalidate(orgId: number, slug?: string): void {
    if (slug !== undefined) this.cache.delete(`slug:${slug}`);
    for (const [key, entry] of this.cache) {
      if (key === `id:${orgId}` || entry.tenant?.id === orgId) this.cache.delete(key);
    }
  }

  /** Forgets every cached lookup (a negative lookup of a slug may have become a hit). */
  clear(): void {
    this.cache.clear();
  }
}

function cacheKey(ref: TenantRef): string {
  return ref.kind === 'id' ? `id:${ref.id}` : `slug:${ref.slug}`;
}

function assertUsable(tenant: ResolvedTenant | null): ResolvedTenant {
  if (!tenant) throw new AppError('TENANT_NOT_FOUND');
  switch (tenant.status) {
    case 'active':
      return tenant;
    case 'suspended':
      throw new AppError('TENANT_SUSPENDED');
    case 'provisioning':
    case 'failed':
      throw new AppError('TENANT_NOT_READY', undefined, { headers: { 'retry-after': '5' } });
    case 'deleting':
    case 'deleted':
      throw new AppError('TENANT_NOT_FOUND');
  }
}
