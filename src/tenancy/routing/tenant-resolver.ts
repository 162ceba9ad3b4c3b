import type { OrganizationStatus } from '../../db/core-schema.js';
import type {
  OrganizationsRepository,
  ResolvableOrganization,
} from '../../modules/organizations/organizations.repository.js';
import { AppError } from '../../errors.js';
import { placementFromRow, type ServerAddress, type TenantPlacement } from '../placement/placement.js';
import { parseTenantHeader, type TenantRef } from './tenant-header.js';
import type { HostTarget } from './host-target.js';
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

/** What the resolver looks up: an X-TENANT reference, or what a request's host names. */
export type TenantLookup = TenantRef | HostTarget;

/** Which organization a custom domain belongs to (the organization_domains repository). */
export interface DomainOwners {
  organizationOf(domain: string): Promise<number | undefined>;
}

/** A cached lookup: `value` null for a cached "unknown". */
export interface CachedLookup {
  readonly value: ResolvedTenant | null;
}

export interface TenantResolverOptions {
  /** How long a lookup is trusted; invalidation makes changes in this process visible at once. */
  ttlMs?: number;
  /** Most cached lookups (known and unknown ones each); the oldest are dropped beyond it. */
  maxEntries?: number;
  /** The tenant server, for rows that recorded none. */
  server: ServerAddress;
  /** Custom domains; without it no domain selects a tenant. */
  domains?: DomainOwners;
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
  private readonly domains: DomainOwners | null;

  constructor(
    private readonly organizations: OrganizationsRepository,
    options: TenantResolverOptions,
  ) {
    this.server = options.server;
    this.domains = options.domains ?? null;
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

  /** The cached answer of `lookup`, if any (undefined: only a lookup can tell). */
  lookupCached(ref: TenantLookup): CachedLookup | undefined {
    const key = cacheKey(ref);
    return this.hits.get(key) ?? this.misses.get(key);
  }

  /**
   * The organization behind a reference, a tenant subdomain's slug or a custom domain, whatever its status (null
   * when unknown or deleted). Domains are cached under keys of their own, so `invalidate` of the organization
   * forgets them too.
   */
  async lookup(ref: TenantLookup): Promise<ResolvedTenant | null> {
    const key = cacheKey(ref);
    const cached = this.hits.get(key) ?? this.misses.get(key);
    if (cached) return cached.value;
    const row = await this.findRow(ref);
    if (!row) {
      this.misses.set(key, null);
      return null;
    }
    const tenant = this.fromRow(row);
    this.hits.set(key, tenant);
    return tenant;
  }

  private async findRow(ref: TenantLookup): Promise<ResolvableRow | undefined> {
    if (ref.kind !== 'domain') return this.organizations.findResolvable(ref);
    const id = await this.domains?.organizationOf(ref.domain);
    return id === undefined ? undefined : this.organizations.findResolvable({ kind: 'id', id });
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
   * the lookup of `slug` too: a slug that was unknown (or belonged to a deleted organization) may now be taken;
   * and of `domain`, which may have been attached or removed.
   */
  invalidate(orgId: number, slug?: string, domain?: string): void {
    if (slug !== undefined) {
      this.hits.delete(`slug:${slug}`);
      this.misses.delete(`slug:${slug}`);
    }
    if (domain !== undefined) {
      this.hits.delete(`domain:${domain}`);
      this.misses.delete(`domain:${domain}`);
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

function cacheKey(ref: TenantLookup): string {
  switch (ref.kind) {
    case 'id':
      return `id:${ref.id}`;
    case 'slug':
      return `slug:${ref.slug}`;
    case 'domain':
      return `domain:${ref.domain}`;
  }
}

/** The tenant if requests may use it; else the contract's error (404 unknown or deleted, 403, 503). */
export function assertUsable(tenant: ResolvedTenant | null): ResolvedTenant {
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
