import type { CoreUser, OrganizationDomain } from '../../db/core-schema.js';
import { AppError } from '../../errors.js';
import { canonicalHostname, isDomainName, isWithin } from '../../tenancy/routing/hostnames.js';
import type { HostRouting } from '../../tenancy/routing/host-target.js';
import type { TenantGateway } from '../../tenancy/routing/tenant-gateway.js';
import type { AuditSource } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import type { OrganizationsRepository } from '../organizations/organizations.repository.js';
import type { OrganizationDomainsRepository } from './organization-domains.repository.js';

/** Custom domains one organization may have. */
export const MAX_DOMAINS_PER_ORGANIZATION = 20;

/** The public shape of a custom domain. */
export function toDomainView(row: OrganizationDomain) {
  return { domain: row.domain, created_at: row.created_at.toISOString() };
}
export type DomainView = ReturnType<typeof toDomainView>;

export interface DomainsDeps {
  domains: OrganizationDomainsRepository;
  organizations: OrganizationsRepository;
  tenants: TenantGateway;
  /** The base domain and the server's own host: neither can be a custom domain. */
  routing: HostRouting;
  audit: AuditRecorder;
}

function invalidDomain(message: string): AppError {
  return new AppError('VALIDATION_ERROR', `Invalid body: /domain ${message}`, {
    errors: [{ path: '/domain', message }],
  });
}

/**
 * Custom domains of organizations, managed by their owners: a request whose host is one of them runs in that
 * organization's tenant (see tenancy/routing). Someone else's organization is 404, checked before the domain.
 */
export class DomainsService {
  constructor(private readonly deps: DomainsDeps) {}

  private async owned(owner: CoreUser, id: number): Promise<void> {
    const org = await this.deps.organizations.findOwned(owner.id, id);
    if (!org) throw new AppError('NOT_FOUND', 'Organization not found');
  }

  async list(owner: CoreUser, id: number): Promise<{ items: DomainView[]; next_cursor: null }> {
    await this.owned(owner, id);
    const rows = await this.deps.domains.listOf(id);
    return { items: rows.map(toDomainView), next_cursor: null };
  }

  /**
   * Attaches a domain (lower-cased): 422 when it is not a DNS name of two labels or more, or when it is the base
   * domain, a name under it (those are tenant subdomains already) or the server's own host; 409 DOMAIN_TAKEN when
   * a live organization has it; 403 QUOTA_EXCEEDED past MAX_DOMAINS_PER_ORGANIZATION.
   */
  async add(
    owner: CoreUser,
    id: number,
    input: { domain: string },
    source: AuditSource,
  ): Promise<DomainView> {
    await this.owned(owner, id);
    const domain = canonicalHostname(input.domain.trim());
    if (domain === null || !isDomainName(domain)) {
      throw invalidDomain('must be a host name such as shop.example.com');
    }
    const { baseDomain, reservedHosts } = this.deps.routing;
    if (baseDomain !== null && isWithin(domain, baseDomain)) {
      throw invalidDomain(`must not be ${baseDomain} or under it: those hosts are tenant subdomains`);
    }
    if (reservedHosts.has(domain)) throw invalidDomain("must not be the server's own host");
    const row = await this.deps.domains.insert(id, domain, MAX_DOMAINS_PER_ORGANIZATION);
    this.deps.tenants.invalidate(id, undefined, domain);
    // The insert is a statement of its own: the event is recorded after it, before the answer.
    await this.domainEvent('organization.domain.added', owner, id, domain, source);
    return toDomainView(row);
  }

  /** Detaches a domain: requests to it select no tenant any more, in every process. 404 when not attached. */
  async remove(owner: CoreUser, id: number, rawDomain: string, source: AuditSource): Promise<void> {
    await this.owned(owner, id);
    const domain = canonicalHostname(rawDomain);
    if (domain === null || !(await this.deps.domains.remove(id, domain))) {
      throw new AppError('NOT_FOUND', 'Domain not attached to this organization');
    }
    this.deps.tenants.invalidate(id, undefined, domain);
    await this.domainEvent('organization.domain.removed', owner, id, domain, source);
  }

  private domainEvent(
    action: 'organization.domain.added' | 'organization.domain.removed',
    owner: CoreUser,
    id: number,
    domain: string,
    source: AuditSource,
  ): Promise<void> {
    return this.deps.audit.core(source, {
      action,
      target: { type: 'organization', id },
      organizationId: id,
      ownerUserId: owner.id,
      detail: { domain },
    });
  }
}
