import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { AccessTokens } from './auth/access-tokens.js';
import type { Config } from './config.js';
import { setPasswordHashConcurrency } from './auth/passwords.js';
import type { CoreDb } from './db/core-database.js';
import { createMailer, type Mailer } from './mail/mailer.js';
import { AuditPruner } from './modules/audit/audit-pruner.js';
import { AuditRecorder } from './modules/audit/audit-recorder.js';
import { AuditService } from './modules/audit/audit.service.js';
import { CoreAuditEventsRepository } from './modules/audit/core-audit-events.repository.js';
import { TenantAuditEventsRepository } from './modules/audit/tenant-audit-events.repository.js';
import { FallbackCounters } from './http/plugins/rate-limit-store.js';
import { AccountMailRequestsRepository } from './modules/accounts/account-mail-requests.repository.js';
import { AccountsService } from './modules/accounts/accounts.service.js';
import { CoreRefreshTokensRepository } from './modules/accounts/core-refresh-tokens.repository.js';
import { CoreUsersRepository } from './modules/accounts/core-users.repository.js';
import { EmailTokensRepository } from './modules/accounts/email-tokens.repository.js';
import { DomainsService } from './modules/domains/domains.service.js';
import { OrganizationDomainsRepository } from './modules/domains/organization-domains.repository.js';
import { InvitationsRepository } from './modules/invitations/invitations.repository.js';
import { InvitationsService } from './modules/invitations/invitations.service.js';
import { OrganizationsService } from './modules/organizations/organizations.service.js';
import { RefreshTokenFamilies } from './modules/shared/refresh-token-families.js';
import { TenantAccountsService } from './modules/tenant-accounts/tenant-accounts.service.js';
import { TenantRefreshTokensRepository } from './modules/tenant-accounts/tenant-refresh-tokens.repository.js';
import { TenantUsersService } from './modules/tenant-users/tenant-users.service.js';
import { hostRouting } from './tenancy/routing/host-target.js';
import type { Provisioner } from './tenancy/lifecycle/provisioner.js';
import type { TenantMover } from './tenancy/lifecycle/tenant-mover.js';
import type { TenantConnectionManager } from './tenancy/connections/connection-manager.js';
import type { TenantStorage } from './tenancy/placement/tenant-storage.js';
import type { TenantGateway } from './tenancy/routing/tenant-gateway.js';
import type { TenantServers } from './tenancy/servers/create-tenant-servers.js';
import type { TenantStore } from './tenancy/stores/tenant-store.js';
import type { OrganizationsRepository } from './modules/organizations/organizations.repository.js';
import { gatewayRouting } from './composition/request-routing.js';
import { createTenancy } from './composition/tenancy.js';

/** Everything the routes use, built once per app from the configuration; nothing lives in module state. */
export interface Services {
  accessTokens: AccessTokens;
  mailer: Mailer;
  coreAuth: AccountsService;
  /** The configured (`default`) tenant server's store. */
  store: TenantStore;
  /** The registry of tenant servers and a store for each (tenancy/servers). */
  servers: TenantServers;
  /** The core's organization rows (one repository for everyone who reads or writes them). */
  organizationRows: OrganizationsRepository;
  /** Tenants' storage by placement (dedicated databases, shared schemas). */
  storage: TenantStorage;
  provisioner: Provisioner;
  /** Moves tenants between placements and servers (the CLI's `tenants move`; reconcile settles crashed ones). */
  mover: TenantMover;
  connections: TenantConnectionManager;
  tenants: TenantGateway;
  tenantAuth: TenantAccountsService;
  tenantUsers: TenantUsersService;
  organizations: OrganizationsService;
  /** Custom domains of organizations. */
  domains: DomainsService;
  /** Invitations into a tenant (tenant routes). */
  invitations: InvitationsService;
  /** Records audit events (see src/modules/audit/audit-recorder.ts); reads go through `audit`. */
  auditRecorder: AuditRecorder;
  auditPruner: AuditPruner;
  audit: AuditService;
  /** Rate-limit counters (Redis when configured, in-process while it is down or absent). */
  rateCounters: FallbackCounters;
  /**
   * Stops the background work (invalidation subscriber, audit pruning, mail sending), then closes the tenant
   * connections and stores: everything but the core database and Redis, which the app closes after.
   */
  close(): Promise<void>;
}

/**
 * Wires the services for one app: the tenancy part shared with the CLI (composition/tenancy.ts) and the module
 * services. Opens no connection by itself (the store and pools connect lazily).
 */
export function createServices(
  config: Config,
  core: CoreDb,
  log: FastifyBaseLogger,
  redis: Redis | null,
): Services {
  setPasswordHashConcurrency(config.passwordHashConcurrency);
  const accessTokens = new AccessTokens(config);
  const mailer = createMailer({ config, core: core.db, log });
  const auditEvents = {
    tenantEvents: new TenantAuditEventsRepository(),
    coreEvents: new CoreAuditEventsRepository(),
  };
  const auditPruner = new AuditPruner({
    core: core.db,
    retentionDays: config.auditRetentionDays,
    log,
    ...auditEvents,
  });
  const auditRecorder = new AuditRecorder({ core: core.db, log, pruner: auditPruner, ...auditEvents });
  const coreAuth = new AccountsService({
    db: core.db,
    config,
    mailer,
    accessTokens,
    audit: auditRecorder,
    refreshTokens: new RefreshTokenFamilies(new CoreRefreshTokensRepository(), config.refreshTokenExpireDays),
    users: new CoreUsersRepository(core.db),
    emailTokens: new EmailTokensRepository(core.db),
    mailRequests: new AccountMailRequestsRepository(core.db),
  });
  // Verification and reset requests are recorded by the API and turned into mail by the sender.
  mailer.addProducer(() => coreAuth.processMailRequests());
  const domainsRepository = new OrganizationDomainsRepository(core.db);
  // The tenancy services, wired as in the CLI; the server's routing is its tenant gateway.
  const tenancy = createTenancy({
    config,
    core,
    log,
    audit: auditRecorder,
    routing: gatewayRouting({ config, redis, log, domains: domainsRepository }),
  });
  const { organizations: organizationsRepository, tenantUsers: tenantUsersRepository, provisioner } = tenancy;
  const tenants = tenancy.routing.gateway;
  // The module services the tenant and organization routes use.
  const tenantRefreshTokens = new RefreshTokenFamilies(
    new TenantRefreshTokensRepository(),
    config.refreshTokenExpireDays,
  );
  const tenantAuth = new TenantAccountsService(
    tenantUsersRepository,
    accessTokens,
    tenantRefreshTokens,
    auditRecorder,
  );
  const tenantUsers = new TenantUsersService(tenantUsersRepository, tenantRefreshTokens, auditRecorder);
  const organizations = new OrganizationsService({
    organizations: organizationsRepository,
    tenantUsers: tenantUsersRepository,
    placement: config.tenantPlacement,
    provisioner,
    tenants,
    tenantAuth,
    maxPerOwner: config.maxOrganizationsPerOwner,
    domains: domainsRepository,
    audit: auditRecorder,
  });
  const domains = new DomainsService({
    domains: domainsRepository,
    organizations: organizationsRepository,
    tenants,
    routing: hostRouting(config),
    audit: auditRecorder,
  });
  const invitations = new InvitationsService({
    config,
    mailer,
    organizations: organizationsRepository,
    invitations: new InvitationsRepository(),
    tenantUsers: tenantUsersRepository,
    audit: auditRecorder,
  });
  return {
    mover: tenancy.mover,
    accessTokens,
    mailer,
    coreAuth,
    store: tenancy.store,
    servers: tenancy.servers,
    organizationRows: organizationsRepository,
    storage: tenancy.storage,
    provisioner,
    connections: tenancy.connections,
    tenants,
    tenantAuth,
    tenantUsers,
    organizations,
    domains,
    invitations,
    auditRecorder,
    auditPruner,
    audit: new AuditService(core.db, auditPruner, auditEvents.tenantEvents, auditEvents.coreEvents),
    rateCounters: new FallbackCounters(redis, log),
    async close() {
      await tenants.stop();
      // Before the connections close: pruning passes in flight use them.
      await auditPruner.stop();
      await mailer.stop();
      await tenancy.close();
    },
  };
}
