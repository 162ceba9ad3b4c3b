import type { Config } from '../../config.js';
import { canonicalHostname, isDomainName, isWithin } from './hostnames.js';
import { SLUG_PATTERN } from './tenant-header.js';

/**
 * What a request's host names: a tenant slug (`<slug>.<TENANT_BASE_DOMAIN>`) or a custom domain to look up.
 * The resolver keeps these apart from X-TENANT references (see TenantResolver.lookup).
 */
export type HostTarget = { kind: 'slug'; slug: string } | { kind: 'domain'; domain: string };

/** How hosts map to tenants, fixed at start from the configuration. */
export interface HostRouting {
  /** `TENANT_BASE_DOMAIN`, canonical; null when unset (custom domains still work). */
  readonly baseDomain: string | null;
  /** Hosts that never select a tenant: the server's own (`PUBLIC_URL`'s host). */
  readonly reservedHosts: ReadonlySet<string>;
}

/**
 * The tenant a request's host (already without its port) may select, or null when it selects none: the bare base
 * domain, a name more than one label under it, a label that cannot be a slug, the server's own host, anything
 * that is not a DNS name of two labels or more (`localhost`, IP addresses), or a malformed Host. Whether a slug
 * or domain really belongs to an organization is the resolver's business (unknown ones select nothing either).
 *
 * @example
 * hostTarget('Acme.example.com', { baseDomain: 'example.com', reservedHosts: new Set() }); // {kind:'slug', slug:'acme'}
 * hostTarget('shop.acme.io', routing); // {kind:'domain', domain:'shop.acme.io'}
 */
export function hostTarget(hostname: string, routing: HostRouting): HostTarget | null {
  const host = canonicalHostname(hostname);
  if (host === null || routing.reservedHosts.has(host)) return null;
  const base = routing.baseDomain;
  if (base !== null && isWithin(host, base)) {
    const label = host.slice(0, Math.max(0, host.length - base.length - 1));
    return SLUG_PATTERN.test(label) ? { kind: 'slug', slug: label } : null;
  }
  return isDomainName(host) ? { kind: 'domain', domain: host } : null;
}

/** Host routing from the configuration: the base domain, and the server's own host, which selects no tenant. */
export function hostRouting(config: Pick<Config, 'publicUrl' | 'tenantBaseDomain'>): HostRouting {
  const own = canonicalHostname(new URL(config.publicUrl).hostname);
  return { baseDomain: config.tenantBaseDomain, reservedHosts: new Set(own ? [own] : []) };
}
