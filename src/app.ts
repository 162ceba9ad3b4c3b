import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { openCoreDb, type CoreDb } from './db/core-database.js';
import { migrateToLatest } from './db/migrator.js';
import { clientErrorHandler, httpServerOptions } from './http/http-server.js';
import { useLazyRequestLoggers } from './http/lazy-child-logger.js';
import { registerTenantContext } from './http/tenant-context.js';
import { auditRoutes } from './modules/audit/audit.routes.js';
import { accountsRoutes } from './modules/accounts/accounts.routes.js';
import { domainsRoutes } from './modules/domains/domains.routes.js';
import { invitationsRoutes } from './modules/invitations/invitations.routes.js';
import { opsRoutes } from './modules/ops/ops.routes.js';
import { organizationsRoutes } from './modules/organizations/organizations.routes.js';
import { tenantUsersRoutes } from './modules/tenant-users/tenant-users.routes.js';
import { docs } from './http/plugins/docs.js';
import { errorHandling, frameworkErrorHandler } from './http/plugins/error-handler.js';
import { loggerOptions } from './logger.js';
import { prometheusMetrics } from './http/plugins/metrics.js';
import { rateLimits } from './http/plugins/rate-limit.js';
import { requestLogging } from './http/plugins/request-logging.js';
import { routeInfo } from './http/plugins/route-info.js';
import { security } from './http/plugins/security.js';
import { workerIdentity } from './http/plugins/worker-identity.js';
import { createRedis } from './redis.js';
import { createServices } from './services.js';
import { FleetMigrator } from './tenancy/fleet/fleet-migrator.js';

export interface BuildOptions {
  /** Fastify logger options; `false` silences it (tests). */
  logger?: FastifyServerOptions['logger'];
  /** Apply core migrations while building (default true); the CLI `migrate` command does it explicitly. */
  migrate?: boolean;
  /** Finish or roll back provisioning left unfinished by a crash, at start (default true). */
  reconcile?: boolean;
  /** An already-open core database (tests); otherwise one is opened from the config and closed with the app. */
  core?: CoreDb;
  /** This app is one node:cluster worker of several: /metrics aggregates all workers, X-Worker-Pid is sent. */
  clusterWorker?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const RECONCILE_GRACE_MS = 30_000;
const RECONCILE_INTERVAL_MS = 60_000;

/**
 * Builds the whole application for a configuration: opens the core database, applies its migrations and
 * registers every route. Nothing happens at import time; `app.close()` closes every database.
 *
 * @example
 * const app = await buildApp(loadConfig());
 * await app.listen({ port: app.config.port, host: app.config.host });
 */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const core = options.core ?? (await openCoreDb(config));
  try {
    // Unbounded: a long migration statement is not an outage (requests get DATABASE_QUERY_TIMEOUT_MS).
    if (options.migrate ?? true) await migrateToLatest(core.unbounded, 'core');
  } catch (error) {
    if (!options.core) await core.close();
    throw error;
  }

  const app = Fastify({
    logger: options.logger ?? loggerOptions(config),
    // One line per request, with tenant and user, comes from the requestLogging plugin instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // Accept a caller's request id for tracing, but only a sane one.
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    requestTimeout: config.requestTimeoutMs,
    http: httpServerOptions(config.requestTimeoutMs),
    // Node's own refusals (408, 431, 400) in the documented error shape.
    clientErrorHandler,
    // Router errors (bad percent-encoding, over-long path parameter) in the documented error shape.
    frameworkErrors: frameworkErrorHandler,
    ajv: { customOptions: { allErrors: false, coerceTypes: 'array', removeAdditional: 'all' } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  useLazyRequestLoggers(app);
  app.decorate('config', config);
  app.decorate('core', core);
  // onClose hooks run in reverse order: the core database closes last, after everything that uses it.
  if (!options.core) app.addHook('onClose', async () => core.close());
  const redis = config.redisUrl ? createRedis(config.redisUrl, app.log) : null;
  if (redis) app.addHook('onClose', async () => void (await redis.quit().catch(() => redis.disconnect())));
  const services = createServices(config, core, app.log, redis);
  app.decorate('services', services);
  app.addHook('onClose', async () => services.close());
  services.tenants.start();

  // Checked at start, not on the first sign-up: a missing CREATEDB privilege or a stale template fails loudly now.
  await services.store.prepare();
  if (options.reconcile ?? true) {
    // The embedded engine has one process, so everything unfinished at start was left by a crash. On a
    // server, other processes may be provisioning right now: only rows idle for a while are touched, and a
    // periodic pass catches what a crash left behind after start. (The provisioner logs what it did.)
    await services.provisioner.reconcile({ graceMs: core.engine === 'pglite' ? 0 : RECONCILE_GRACE_MS });
    const timer = setInterval(() => {
      services.provisioner.reconcile({ graceMs: RECONCILE_GRACE_MS }).catch((error: unknown) => {
        app.log.warn({ err: error }, 'periodic tenant reconcile failed');
      });
    }, RECONCILE_INTERVAL_MS);
    timer.unref();
    app.addHook('preClose', async () => clearInterval(timer));
    // Tenants are migrated by `tenantry migrate`, never implicitly at start (a deploy must not wait on a fleet).
    const { behind } = await new FleetMigrator(core, services.storage, services.organizationRows).status();
    if (behind > 0)
      app.log.warn({ behind }, 'tenants are behind the latest tenant migration: run `tenantry migrate`');
  }
  app.addHook('onReady', async () => services.mailer.start());
  app.addHook('onReady', async () => services.auditPruner.start());
  // Once closing starts, answer in-flight requests with `Connection: close` so keep-alive sockets do not
  // hold the shutdown open until their idle timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Synchronous hooks: an async one costs a promise and a tick on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });

  // Named plugins (src/http/plugins), each awaited so their hooks are added in this order.
  await app.register(routeInfo);
  await app.register(errorHandling);
  await app.register(requestLogging);
  if (options.clusterWorker) await app.register(workerIdentity);
  await app.register(security, { corsOrigins: config.corsOrigins });
  await app.register(prometheusMetrics, { clusterWorker: options.clusterWorker ?? false });
  // JSON only (Fastify also parses text/plain by default): a body of any other type is 415 UNSUPPORTED_MEDIA_TYPE.
  // The login route adds the form parser in its own scope (src/modules/accounts/accounts.routes.ts).
  app.removeContentTypeParser('text/plain');
  await app.register(docs);
  await app.register(opsRoutes);
  await app.register(
    async (api) => {
      // Rate limits first: every /api request counts, whatever its tenant resolves to.
      await api.register(rateLimits, { limit: config.rateLimit, counters: services.rateCounters, redis });
      registerTenantContext(api);
      await api.register(accountsRoutes);
      await api.register(tenantUsersRoutes);
      await api.register(organizationsRoutes);
      await api.register(domainsRoutes);
      await api.register(invitationsRoutes);
      await api.register(auditRoutes);
    },
    { prefix: '/api' },
  );
  return app;
}
