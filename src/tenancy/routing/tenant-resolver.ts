import type { OrganizationStatus } from '../../db/core-schema.js';
import type {
  OrganizationsRepository,
  ResolvableOrganization,
} from '../../modules/organizations/organizations.repository.js';
import { AppError } from '../../errors.js';
import { placementFromRow, type ServerAddress, type TenantPlacement } from '../placement/placement.js';
import { parseTenantHeader, type TenantRef } from './tenant-header.js';
import { TtlCache } from './ttl-cache.js';

/** What a request needs to know about its tenant once the header is resolved. */
export interface ResolvedTenant {
  readonly id: number;
  readonly slug: string;
  readonly status: OrganizationStatus;
  readonly allowSignup: boolean;
  readonly ownerId: number;
  /** Where its data lives; null until provisioning has named it. */
  readonly placement: TenantPlacement | null;
  /** Being moved, before the switch: its data is frozen, requests answer 503 + Retry-After (tenant-mover.ts). */
  readonly moving: boolean;
}

/** The organization columns a resolution reads. */
export type ResolvableRow = ResolvableOrganization;

export interface TenantResolverOptions {
  /** How long a lookup is trusted; invalidation makes changes in this process visible at once. */
  ttlMs?: number;
  /** Most cached lookups (known and unknown ones each); the oldest are dropped beyond it. */
  maxEntries?: number;
  /** The tenant server, for rows that recorded none. */
  server: ServerAddress;
}

/**
 * Longest time an "unknown" answer is trusted. Unknown references are what an attacker can mint without end
 * (`nosuch1`, `nosuch2`, …), so they are kept briefly and apart from known tenants (see TenantResolver).
 */
const MISS_TTL_MS = 2_000;

/**
 * Resolves X-TENANT values (id or slug) to organizations, with small bounded TTL caches keyed by the exact
 * reference. Only usable tenants pass: unknown or deleted → 404, provisioning or failed → 503, suspended → 403.
 * Unknown references are cached too (briefly, at most MISS_TTL_MS), so a flood of them costs the core database
 * one query per distinct value and window; they live in a cache of their own, so they can never evict the
 * known tenants that real traffic needs. Creating an organization invalidates the miss for its id and slug.
 *
 * @example
 * const tenant = await resolver.resolve('acme'); // throws AppError('TENANT_NOT_FOUND') etc.
 */
export class TenantResolver {
  private readonly hits: TtlCache<ResolvedTenant>;
  private readonly misses: TtlCache<null>;
  private readonly server: ServerAddress;

  constructor(
    private readonly organizations: OrganizationsRepository,
    options: TenantResolverOptions,
  ) {
    this.server = options.server;
    const ttlMs = options.ttlMs ?? 5_000;
    const maxEntries = options.maxEntries ?? 10_000;
    this.hits = new TtlCache(ttlMs, maxEntries);
    this.misses = new TtlCache(Math.min(ttlMs, MISS_TTL_MS), maxEntries);
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
    const key = cacheKey(parseTenantHeader(header));
    const cached = this.hits.get(key) ?? this.misses.get(key);
    return cached && assertUsable(cached.value);
  }

  /** The organization behind a reference, whatever its status (null when unknown or deleted). */
  async lookup(ref: TenantRef): Promise<ResolvedTenant | null> {
    const key = cacheKey(ref);
    const cached = this.hits.get(key) ?? this.misses.get(key);
    if (cached) return cached.value;
    const row = await this.organizations.findResolvable(ref);
    if (!row) {
      this.misses.set(key, null);
      return null;
    }
    const tenant = this.fromRow(row);
    this.hits.set(key, tenant);
    return tenant;
  }

  /** What a request needs of an organization row already read (e.g. by the organizations service). */
  fromRow(row: ResolvableRow): ResolvedTenant {
    return {
      id: row.id,
      slug: row.slug,
      status: row.status,
      allowSignup: row.allow_signup,
      ownerId: row.owner_id,
      placement: placementFromRow(row, this.server),
      // After the switch the new placement serves; only the steps before it freeze the tenant.
      moving: row.move_step !== null && row.move_step !== 'switched',
    };
  }

  /**
   * Forgets everything cached about an organization (status, slug or settings changed, or it was deleted), and
   * the lookup of `slug` too: a slug that was unknown (or belonged to a deleted organization) may now be taken.
   */
  invalidate(orgId: number, slug?: string): void {
    if (slug !== undefined) {
      this.hits.delete(`slug:${slug}`);
      this.misses.delete(`slug:${slug}`);
    }
    this.misses.delete(`id:${orgId}`);
    this.hits.deleteWhere((key, tenant) => key === `id:${orgId}` || tenant.id === orgId);
  }

  /** Forgets every cached lookup (a negative lookup of a slug may have become a hit). */
  clear(): void {
    this.hits.clear();
    this.misses.clear();
  }
}

function cacheKey(ref: TenantRef): string {
  return ref.kind === 'id' ? `id:${ref.id}` : `slug:${ref.slug}`;
}

function assertUsable(tenant: ResolvedTenant | null): ResolvedTenant {
  if (!tenant) throw new AppError('TENANT_NOT_FOUND');
  switch (tenant.status) {
    case 'active':
      if (tenant.moving) {
        throw new AppError('SERVICE_UNAVAILABLE', 'Organization is being moved, try again shortly', {
          headers: { 'retry-after': '1' },
        });
      }
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
