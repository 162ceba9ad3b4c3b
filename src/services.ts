import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { AccessTokens } from './auth/access-tokens.js';
import type { Config } from './config.js';
import type { CoreDb } from './db/core-database.js';
import { createMailer, type Mailer } from './mail/mailer.js';
import { AuditPruner } from './modules/audit/audit-pruner.js';
import { AuditRecorder } from './modules/audit/audit-recorder.js';
import { AuditService } from './modules/audit/audit.service.js';
import { CoreAuditEventsRepository } from './modules/audit/core-audit-events.repository.js';
import { TenantAuditEventsRepository } from './modules/audit/tenant-audit-events.repository.js';
import { FallbackCounters } from './plugins/rate-limit-store.js';
import { AccountMailRequestsRepository } from './modules/accounts/account-mail-requests.repository.js';
import { AccountsService } from './modules/accounts/accounts.service.js';
import { CoreRefreshTokensRepository } from './modules/accounts/core-refresh-tokens.repository.js';
import { CoreUsersRepository } from './modules/accounts/core-users.repository.js';
import { EmailTokensRepository } from './modules/accounts/email-tokens.repository.js';
import { DomainsService } from './modules/domains/domains.service.js';
import { OrganizationDomainsRepository } from './modules/domains/organization-domains.repository.js';
import { InvitationsRepository } from './modules/invitations/invitations.repository.js';
import { InvitationsService } from './modules/invitations/invitations.service.js';
import { OrganizationsRepository } from './modules/organizations/organizations.repository.js';
import { OrganizationsService } from './modules/organizations/organizations.service.js';
import { RefreshTokenFamilies } from './modules/shared/refresh-token-families.js';
import { TenantAccountsService } from './modules/tenant-accounts/tenant-accounts.service.js';
import { TenantRefreshTokensRepository } from './modules/tenant-accounts/tenant-refresh-tokens.repository.js';
import { TenantUsersRepository } from './modules/tenant-users/tenant-users.repository.js';
import { TenantUsersService } from './modules/tenant-users/tenant-users.service.js';
import { TenantConnectionManager } from './tenancy/connections/connection-manager.js';
import { createTenantConnector } from './tenancy/connections/connectors.js';
import { TenantStorage } from './tenancy/placement/tenant-storage.js';
import { movedAway } from './tenancy/connections/moved-away.js';
import { Provisioner } from './tenancy/lifecycle/provisioner.js';
import { hostRouting } from './tenancy/routing/host-target.js';
import { TenantGateway } from './tenancy/routing/tenant-gateway.js';
import { TenantMover } from './tenancy/lifecycle/tenant-mover.js';
import { serverDirectory } from './tenancy/servers/server-directory.js';
import { TenantResolver } from './tenancy/routing/tenant-resolver.js';
import { createTenantStore } from './tenancy/stores/create-tenant-store.js';
import type { TenantStore } from './tenancy/stores/tenant-store.js';
import { createTenantServers, type TenantServers } from './tenancy/servers/create-tenant-servers.js';

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
}

/** Wires the services for one app. Opens no connection by itself (the store and pools connect lazily). */
export function createServices(
  config: Config,
  core: CoreDb,
  log: FastifyBaseLogger,
  redis: Redis | null,
): Services {
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
  const store = createTenantStore(config, log);
  const servers = createTenantServers(config, core.db, store, log);
  const connections = new TenantConnectionManager(
    createTenantConnector(config, store, (server) => servers.registry.urlOf(server)),
    config.tenantConnections,
  );
  const storage = new TenantStorage(store, connections, {
    sharedPerDatabase: config.tenantSharedPerDatabase,
    log,
    stores: servers.stores,
  });
  const organizationsRepository = new OrganizationsRepository(core.db);
  const tenantUsersRepository = new TenantUsersRepository();
  const domainsRepository = new OrganizationDomainsRepository(core.db);
  const resolver = new TenantResolver(organizationsRepository, {
    ttlMs: config.tenantCacheTtlMs,
    server: store.server,
    domains: domainsRepository,
  });
  const tenants = new TenantGateway(resolver, connections, { redis, log, sharedNames: store.sharedNames });
  const mover = new TenantMover({
    organizations: organizationsRepository,
    servers: serverDirectory(servers.registry, storage),
    log,
    invalidate: (orgId, slug) => tenants.invalidate(orgId, slug),
    beforeDrop: (orgId, placement) => tenants.close(orgId, placement, movedAway),
    audit: auditRecorder,
  });
  const provisioner = new Provisioner({
    organizations: organizationsRepository,
    storage,
    coreUsers: new CoreUsersRepository(core.db),
    tenantUsers: tenantUsersRepository,
    log,
    servers: servers.registry,
    moves: mover,
  });
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
    mover,
    accessTokens,
    mailer,
    coreAuth,
    store,
    servers,
    organizationRows: organizationsRepository,
    storage,
    provisioner,
    connections,
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
  };
}
