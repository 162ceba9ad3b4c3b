import type { CoreUser, Organization, PlacementKind } from '../../db/core-schema.js';
import { AppError } from '../../errors.js';
import { decodeCursor, toPage } from '../shared/pagination.js';
import type { TokenResponse } from '../shared/token-response.js';
import type { Provisioner } from '../../tenancy/lifecycle/provisioner.js';
import type { TenantGateway } from '../../tenancy/routing/tenant-gateway.js';
import type { TenantAccountsService } from '../tenant-accounts/tenant-accounts.service.js';
import type { TenantUsersRepository } from '../tenant-users/tenant-users.repository.js';
import type { OrganizationDomainsRepository } from '../domains/organization-domains.repository.js';
import type { OrganizationsRepository } from './organizations.repository.js';
import type { AuditSource } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';

/** The public shape of an organization; `organization_id` repeats `id` for clients of the old service. */
export function toOrganizationView(org: Organization) {
  return {
    id: org.id,
    organization_id: org.id,
    name: org.name,
    slug: org.slug,
    // Deleted organizations are never shown: every query that feeds this view filters them out.
    status: org.status as Exclude<Organization['status'], 'deleted'>,
    placement: org.placement_kind,
    tenant_db_name: org.tenant_db_name,
    owner_id: org.owner_id,
    allow_signup: org.allow_signup,
    created_at: org.created_at.toISOString(),
  };
}
export type OrganizationView = ReturnType<typeof toOrganizationView>;

export interface OrganizationsDeps {
  provisioner: Provisioner;
  tenants: TenantGateway;
  tenantAuth: TenantAccountsService;
  /** MAX_ORGANIZATIONS_PER_OWNER: organizations that are not deleted, per owner (null: no quota). */
  maxPerOwner: number | null;
  /** TENANT_PLACEMENT: how new organizations are stored (callers do not choose). */
  placement: PlacementKind;
  organizations: OrganizationsRepository;
  tenantUsers: TenantUsersRepository;
  /** Custom domains, freed when their organization is deleted. */
  domains?: Pick<OrganizationDomainsRepository, 'removeAllOf'>;
  audit: AuditRecorder;
}

/** Organizations of core owners, each with its own tenant storage (a database, or a schema of a shared one). */
export class OrganizationsService {
  private readonly orgs: OrganizationsRepository;

  constructor(private readonly deps: OrganizationsDeps) {
    this.orgs = deps.organizations;
  }

  /**
   * Creates an organization and provisions its database; answers only once the database exists, is migrated
   * and holds the owner. A derived slug that is taken gets a random suffix; a given one answers 409. Past the
   * owner's quota: 403 QUOTA_EXCEEDED.
   */
  async create(
    owner: CoreUser,
    input: { name: string; slug?: string },
    source: AuditSource,
  ): Promise<OrganizationView> {
    if (!owner.is_owner) throw new AppError('NOT_OWNER');
    if (!owner.is_verified) throw new AppError('EMAIL_NOT_VERIFIED');
    const name = input.name.trim();
    if (name === '') {
      throw new AppError('VALIDATION_ERROR', 'Invalid body: /name must not be blank', {
        errors: [{ path: '/name', message: 'must not be blank' }],
      });
    }
    const org = await this.orgs.insertWithSlug(owner.id, name, input.slug, {
      maxPerOwner: this.deps.maxPerOwner,
      placement: this.deps.placement,
      onInsert: (trx, created) =>
        this.deps.audit.core(
          source,
          {
            action: 'organization.created',
            target: { type: 'organization', id: created.id },
            organizationId: created.id,
            ownerUserId: created.owner_id,
            detail: { name: created.name, slug: created.slug, placement: created.placement_kind },
          },
          trx,
        ),
    });
    // A cached "unknown" for this slug or id would answer 404 while the organization is being provisioned.
    this.deps.tenants.invalidate(org.id, org.slug);
    const provisioned = await this.deps.provisioner.provision(org.id);
    this.deps.tenants.invalidate(org.id, org.slug);
    return toOrganizationView(provisioned);
  }

  async list(owner: CoreUser, query: { limit?: number; cursor?: string }) {
    const limit = query.limit ?? 20;
    const rows = await this.orgs.listOwned(owner.id, {
      afterId: decodeCursor(query.cursor),
      limit: limit + 1,
    });
    return toPage(rows, limit, toOrganizationView);
  }

  private async owned(owner: CoreUser, id: number): Promise<Organization> {
    const org = await this.orgs.findOwned(owner.id, id);
    if (!org) throw new AppError('NOT_FOUND', 'Organization not found');
    return org;
  }

  async get(owner: CoreUser, id: number): Promise<OrganizationView> {
    return toOrganizationView(await this.owned(owner, id));
  }

  async update(
    owner: CoreUser,
    id: number,
    input: { name?: string; allow_signup?: boolean },
    source: AuditSource,
  ): Promise<OrganizationView> {
    const before = await this.owned(owner, id);
    const changes: { name?: string; allow_signup?: boolean } = {};
    if (input.name !== undefined) changes.name = input.name.trim();
    if (changes.name === '') {
      throw new AppError('VALIDATION_ERROR', 'Invalid body: /name must not be blank', {
        errors: [{ path: '/name', message: 'must not be blank' }],
      });
    }
    if (input.allow_signup !== undefined) changes.allow_signup = input.allow_signup;
    const org = await this.deps.organizations.transaction(async (trx) => {
      const updated = await this.orgs.update(id, changes, trx);
      await this.deps.audit.core(
        source,
        {
          action: 'organization.updated',
          target: { type: 'organization', id },
          organizationId: id,
          ownerUserId: updated.owner_id,
          detail: {
            changes,
            ...(changes.name !== undefined && changes.name !== before.name
              ? { previous_name: before.name }
              : {}),
          },
        },
        trx,
      );
      return updated;
    });
    this.deps.tenants.invalidate(id);
    return toOrganizationView(org);
  }

  /**
   * Refuses new requests to the tenant, closes its connections, drops its database; then the id and slug are 404,
   * and its custom domains select nothing and are free for others (a domain of a deleted organization counts as
   * free even if a crash left its row behind).
   */
  async delete(owner: CoreUser, id: number, source: AuditSource): Promise<void> {
    const org = await this.owned(owner, id);
    this.deps.tenants.invalidate(id);
    await this.deps.provisioner.deprovision(id, (placement) => this.deps.tenants.close(id, placement));
    await this.deps.domains?.removeAllOf(id);
    this.deps.tenants.invalidate(id);
    // Deletion is several steps, none of them a transaction this could join: recorded once done, before answering.
    await this.deps.audit.core(source, {
      action: 'organization.deleted',
      target: { type: 'organization', id },
      organizationId: id,
      ownerUserId: org.owner_id,
      detail: { slug: org.slug },
    });
  }

  /** A tenant token for the owner's own user inside the organization (role owner), so the owner needs no tenant password. */
  async ownerToken(owner: CoreUser, id: number, source: AuditSource): Promise<TokenResponse> {
    const org = await this.owned(owner, id);
    if (org.status === 'suspended') throw new AppError('TENANT_SUSPENDED');
    if (org.status !== 'active')
      throw new AppError('TENANT_NOT_READY', undefined, { headers: { 'retry-after': '5' } });
    const tenant = this.deps.tenants.contextForOrganization(org);
    const user = await this.deps.tenantUsers.findByCoreUser(tenant.db, owner.id);
    if (!user?.is_active)
      throw new AppError('FORBIDDEN', 'The owner has no active user in this organization');
    // Recorded in the tenant's own log, with the core owner as the actor, with the session it starts.
    return tenant.db.transaction().execute(async (trx) => {
      const tokens = await this.deps.tenantAuth.issueTokens(tenant, user, undefined, trx);
      await this.deps.audit.tenant(
        tenant,
        source,
        {
          action: 'owner.token_exchanged',
          actor: { plane: 'core', user_id: owner.id },
          target: { type: 'user', id: user.id },
        },
        trx,
      );
      return tokens;
    });
  }
}
