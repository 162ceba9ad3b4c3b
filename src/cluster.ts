import cluster, { type Worker } from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config.js';
import { serveClusterMetrics } from './metrics/cluster-metrics.js';

/**
 * Set by the primary on the first worker only. Workers start one after the other's migrations, and only the
 * first finishes or rolls back provisioning left over by a crash: a later worker doing it would take over
 * provisionings that a live sibling is still running.
 */
const RECONCILE_ENV = 'TENANTRY_WORKER_RECONCILE';
/** A worker that dies sooner than this after its start counts as crash-looping: its replacement waits. */
const MIN_HEALTHY_UPTIME_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

/** True in the cluster worker that must reconcile unfinished provisioning at start. */
export function isReconcilingWorker(env: Record<string, string | undefined> = process.env): boolean {
  return env[RECONCILE_ENV] === '1';
}

/**
 * The configuration one of `workers` processes runs with: the tenant connection budgets and the number of argon2
 * computations at once are totals for the whole server, so each worker takes an equal share (at least one), and
 * together they never hold more than the configured number of connections (unless the budget is smaller than the
 * number of workers).
 *
 * @example
 * workerShare(config, 4).tenantConnections.maxConnections; // 10 when TENANT_MAX_CONNECTIONS=40
 */
export function workerShare(config: Config, workers: number = config.webConcurrency): Config {
  const share = (total: number) => Math.max(1, Math.floor(total / workers));
  const limits = config.tenantConnections;
  return Object.freeze({
    ...config,
    passwordHashConcurrency: share(config.passwordHashConcurrency),
    tenantConnections: Object.freeze({
      ...limits,
      maxConnections: share(limits.maxConnections),
      maxPerTenant: share(limits.maxPerTenant),
      maxPerSharedDatabase: share(limits.maxPerSharedDatabase),
      maxPerServer: share(limits.maxPerServer),
      maxOpenTenants: share(limits.maxOpenTenants),
    }),
  });
}

export interface PrimaryOptions {
  workers: number;
  log: FastifyBaseLogger;
  /** After SIGTERM, workers still running past this are killed and the primary exits with status 1. */
  shutdownDeadlineMs: number;
}

/**
 * The node:cluster primary: it serves nothing itself. It starts `workers` processes sharing the port (the first
 * alone, so migrations and template preparation never race), replaces any that dies (waiting longer each time
 * one dies right after starting), aggregates their metrics for /metrics, and on SIGTERM or SIGINT stops them
 * all gracefully: each stops accepting, finishes its requests and exits; the primary exits 0 once all did.
 * If the first worker dies before it listens (bad database, failed migration), the whole server stops with
 * status 1 instead of restarting it forever.
 */
export function runPrimary({ workers, log, shutdownDeadlineMs }: PrimaryOptions): void {
  const startedAt = new Map<Worker, number>();
  let started = false;
  let stopping = false;
  let stopFailed = false;
  let restartDelay = 0;
  const restarts = new Set<NodeJS.Timeout>();

  const fork = (reconcile: boolean): Worker => {
    const worker = cluster.fork({ [RECONCILE_ENV]: reconcile ? '1' : '0' });
    startedAt.set(worker, Date.now());
    return worker;
  };

  // A worker that just exited may still be listed until its IPC channel closes: isDead() is what counts.
  const live = () =>
    Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  const exitWhenAllGone = () => {
    if (live().length === 0) {
      log.info('all workers stopped');
      process.exit(stopFailed ? 1 : 0);
    }
  };

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    for (const timer of restarts) clearTimeout(timer);
    log.info({ signal, workers: live().map((w) => w.process.pid) }, 'shutting down: stopping workers');
    const deadline = setTimeout(() => {
      log.error('shutdown deadline passed, killing the remaining workers');
      for (const worker of live()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, shutdownDeadlineMs);
    deadline.unref();
    for (const worker of live()) worker.process.kill('SIGTERM');
    exitWhenAllGone();
  };

  cluster.on('exit', (worker, code, signal) => {
    const uptime = Date.now() - (startedAt.get(worker) ?? Date.now());
    startedAt.delete(worker);
    // Not `pid`: pino already puts the primary's own pid on every line.
    const workerPid = worker.process.pid;
    if (stopping) {
      // A worker stopped before it installed its handlers dies of the signal itself: still a clean stop.
      if (code !== 0 && signal !== 'SIGTERM') stopFailed = true;
      exitWhenAllGone();
      return;
    }
    if (!started) {
      log.error({ workerPid, code, signal }, 'the first worker failed to start; stopping');
      stopFailed = true;
      stop('startup failure');
      return;
    }
    restartDelay =
      uptime < MIN_HEALTHY_UPTIME_MS ? Math.min(Math.max(restartDelay * 2, 1_000), MAX_RESTART_DELAY_MS) : 0;
    log.warn(
      { workerPid, code, signal, uptimeMs: uptime, restartInMs: restartDelay },
      'worker died, replacing it',
    );
    const timer = setTimeout(() => {
      restarts.delete(timer);
      const replacement = fork(false);
      replacement.once('listening', () =>
        log.info(
          { workerPid: replacement.process.pid, replacedPid: workerPid },
          'replacement worker listening',
        ),
      );
    }, restartDelay);
    restarts.add(timer);
  });

  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  // Workers that have started listening: the ones with an app, whose metrics can be collected.
  const listening = new Set<Worker>();
  serveClusterMetrics(() => [...listening]);
  let announced = false;
  cluster.on('listening', (worker) => {
    listening.add(worker);
    if (!announced && listening.size === workers) {
      announced = true;
      log.info({ workers: live().map((w) => w.process.pid) }, 'all workers listening');
    }
  });
  cluster.on('exit', (worker) => listening.delete(worker));

  const first = fork(true);
  first.once('listening', () => {
    // From now on the server is up: a worker that dies, even while starting, is replaced.
    started = true;
    for (let i = 1; i < workers; i++) fork(false);
  });
}
