import cluster from 'node:cluster';
import closeWithGrace from 'close-with-grace';
import { config as loadDotenv } from 'dotenv';
import Fastify from 'fastify';
import { buildApp } from './app.js';
import { isReconcilingWorker, runPrimary, workerShare } from './cluster.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { productionWarnings } from './config-warnings.js';
import { bufferedStdout, logFormat, loggerOptions } from './logger.js';
import { explainStartupError } from './startup-errors.js';

const SHUTDOWN_DEADLINE_MS = 10_000;

async function main(): Promise<void> {
  // A .env file fills in what the environment does not set; it never overrides it.
  loadDotenv({ quiet: true });
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }

  const format = logFormat();
  // JSON lines go to a buffered stdout (see bufferedStdout); pino-pretty (development) has its own transport.
  const logger =
    format === 'json'
      ? { ...loggerOptions(config, format), stream: bufferedStdout() }
      : loggerOptions(config, format);
  if (config.webConcurrency > 1 && cluster.isPrimary) {
    // The primary serves nothing; a bare Fastify instance just gives it the same logger as the workers.
    const log = Fastify({ logger }).log;
    for (const warning of productionWarnings(config)) log.warn(warning);
    if (!config.redisUrl) log.warn('WEB_CONCURRENCY above 1 without REDIS_URL: rate limits count per worker');
    runPrimary({ workers: config.webConcurrency, log, shutdownDeadlineMs: SHUTDOWN_DEADLINE_MS });
    return;
  }

  const worker = cluster.isWorker;
  let app: Awaited<ReturnType<typeof buildApp>>;
  try {
    app = await buildApp(worker ? workerShare(config) : config, {
      logger,
      clusterWorker: worker,
      reconcile: !worker || isReconcilingWorker(),
    });
  } catch (error) {
    exitExplained(error, config);
  }
  // Workers stay quiet: the primary has said it once.
  if (!worker) for (const warning of productionWarnings(config)) app.log.warn(warning);
  // close-with-grace: on SIGTERM, SIGINT or SIGHUP, in-flight requests finish and the server stops, then exit 0;
  // an uncaught error or unhandled rejection is logged and closes the same way, then exit 1; a second signal, or
  // SHUTDOWN_DEADLINE_MS passing, exits 1 at once. Signals whose default action matters (SIGQUIT's core dump) or
  // that are unsafe to handle in JavaScript (SIGSEGV, SIGBUS, ...) keep Node's defaults.
  closeWithGrace(
    {
      delay: SHUTDOWN_DEADLINE_MS,
      logger: false,
      skip: [
        'SIGQUIT',
        'SIGILL',
        'SIGTRAP',
        'SIGABRT',
        'SIGBUS',
        'SIGFPE',
        'SIGSEGV',
        'SIGUSR2',
        'beforeExit',
      ],
      onTimeout: () => app.log.error('shutdown deadline passed, exiting'),
      onSecondSignal: (signal) => app.log.error({ signal }, 'second signal while shutting down, exiting'),
      onSecondError: (error) => app.log.error({ err: error }, 'error while shutting down, exiting'),
    },
    async ({ signal, err }) => {
      if (err) app.log.fatal({ err }, 'uncaught error: shutting down');
      app.log.info({ signal }, 'shutting down: finishing in-flight requests');
      try {
        await app.close();
      } catch (error) {
        app.log.error({ err: error }, 'error while shutting down');
        throw error;
      }
      app.log.info('stopped');
    },
  );

  await app
    .listen({ host: config.host, port: config.port })
    .catch((error: unknown) => exitExplained(error, config));
  app.log.info(
    { engine: app.core.engine, dataDir: app.core.engine === 'pglite' ? config.dataDir : undefined },
    'ready',
  );
}

/**
 * Ends a failed start: one line with cause and fix for what an operator can fix (database down or missing, port
 * in use), the stack trace for anything else.
 */
function exitExplained(error: unknown, config: Config): never {
  const explanation = explainStartupError(error, config);
  console.error(
    explanation
      ? `tenantry could not start: ${explanation}`
      : error instanceof Error
        ? (error.stack ?? error.message)
        : error,
  );
  process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
