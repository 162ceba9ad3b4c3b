/**
 * Tenant-routed throughput: authenticated `GET /api/users/me` over W warm tenants against a plain Fastify + pg
 * server doing the same primary-key select on one database, and against a FastAPI + asyncpg + uvloop peer doing
 * the same routing (no auth), all in the same run, interleaved.
 *
 *   npx tsx bench/tenant-throughput.ts [--quick] [--tenants 80] [--curve 10,20,40,80] [--duration 5]
 *       [--rounds 2] [--warmup 2] [--connections 50] [--server-cpus 0] [--load-cpus 1] [--no-peer]
 *       [--max-seconds 900] [--cpu-prof DIR] [--server-env NAME=VALUE ...] [--node-arg FLAG ...]
 *       [--out bench/results]
 *
 * Scenarios, each run once per round, rounds in alternating order (A B C …, … C B A) so that machine noise hits
 * all of them alike:
 *   - baseline: bench/baseline-server.ts, Fastify + pg.Pool(40) on one tenant database, no auth;
 *   - peer: bench/peers/fastapi_app.py over 40 tenants (skipped with --no-peer or when its packages are missing);
 *   - Tenantry, lean settings (LOG_LEVEL=warn, no rate limits, no Redis), W warm tenants for each W of --curve
 *     (the default connection budget of 40: the last W lies beyond it);
 *   - Tenantry, production defaults (LOG_LEVEL=info to a file, rate limits on, counters in Redis), W = 10 and 40.
 * Each segment starts its server as a child process pinned to --server-cpus, checks one answer, and runs the load
 * generator as a process of its own pinned to --load-cpus: warm-up, then the measured window. Reported per
 * scenario: req/s and its ratio to the baseline, p50/p99, errors, server CPU per request (from /proc, steadier
 * than req/s on a shared machine), PostgreSQL connections opened per request (pg_stat_database.sessions) and the
 * most held at once (pg_stat_activity, sampled). Results are written to --out as JSON and Markdown.
 * Everything created (a `tenantry_bench_<random>` core database and its tenant databases, a temp directory,
 * the servers) is removed at the end, also on failure, Ctrl-C or --max-seconds.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, prepareBenchRun } from './lib/bench-run.js';
import { guardRun, runMain } from './lib/cleanup.js';
import { createFleet, type FleetTenant } from './lib/fleet.js';
import type { LoadRequest } from './lib/load.js';
import { checkFastapiPeer, startFastapiPeer } from './lib/peer-process.js';
import { urlForDatabase } from './lib/postgres.js';
import { redisAnswers } from './lib/redis-check.js';
import { fixed, table } from './lib/report.js';
import { HEADER, markdownTable, row } from './lib/scenario-table.js';
import { writeResults } from './lib/results.js';
import { runRounds } from './lib/rounds.js';
import type { Scenario, ScenarioSummary } from './lib/segments.js';
import { freePort, startServer } from './lib/server-process.js';
import { parseServerEnv } from './lib/server-env.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    tenants: { type: 'string' },
    curve: { type: 'string' },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    'server-cpus': { type: 'string' },
    'load-cpus': { type: 'string' },
    'no-peer': { type: 'boolean', default: false },
    'max-seconds': { type: 'string', default: '900' },
    'cpu-prof': { type: 'string' },
    'server-env': { type: 'string', multiple: true, default: [] },
    'node-arg': { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: 'bench/results' },
  },
});
const quick = values.quick;
const twoCores = cpus().length >= 2;
const opts = {
  curve: (values.curve ?? (quick ? '10,40,80' : '10,20,40,80')).split(',').map(Number),
  duration: Number(values.duration ?? (quick ? 3 : 5)),
  rounds: Number(values.rounds ?? (quick ? 1 : 2)),
  warmup: Number(values.warmup ?? (quick ? 1 : 2)),
  connections: Number(values.connections),
  serverCpus: values['server-cpus'] ?? (twoCores ? '0' : undefined),
  loadCpus: values['load-cpus'] ?? (twoCores ? '1' : undefined),
  maxSeconds: Number(values['max-seconds']),
  cpuProfDir: values['cpu-prof'] === undefined ? null : resolve(values['cpu-prof']),
  out: resolve(values.out),
};
const tenantCount = Number(values.tenants ?? Math.max(...opts.curve, 40));
const parsedServerEnv = parseServerEnv(values['server-env']);
const serverEnv = parsedServerEnv ?? {};
const positive = (n: number) => Number.isInteger(n) && n >= 1;
if (
  ![tenantCount, opts.duration, opts.rounds, opts.connections, opts.maxSeconds, ...opts.curve].every(
    positive,
  ) ||
  !(Number.isInteger(opts.warmup) && opts.warmup >= 0) ||
  Math.max(...opts.curve) > tenantCount ||
  parsedServerEnv === null
) {
  process.stderr.write(
    'usage: npx tsx bench/tenant-throughput.ts [--quick] [--tenants N >= max of curve] [--curve W,W,...]\n' +
      '         [--duration S] [--rounds R] [--warmup S] [--connections C] [--server-cpus LIST]\n' +
      '         [--load-cpus LIST] [--no-peer] [--max-seconds S] [--cpu-prof DIR] [--server-env NAME=VALUE ...]\n' +
      '         [--out DIR]\n',
  );
  process.exit(2);
}

const out = (line = '') => process.stdout.write(`${line}\n`);

/** A random one of `tenants` per request: its token and X-TENANT (the baseline gets them too, and ignores them). */
function requestsFor(tenants: readonly FleetTenant[], path: string): LoadRequest[] {
  return tenants.map((tenant) => ({
    path,
    headers: { authorization: `Bearer ${tenant.token}`, 'x-tenant': String(tenant.id) },
  }));
}

async function main(): Promise<void> {
  guardRun({ maxSeconds: opts.maxSeconds });
  const started = performance.now();
  const machine = describeMachine();
  out(`tenant throughput: ${machine}`);
  out(
    `${opts.rounds} round(s) × ${opts.duration} s measured per scenario (+${opts.warmup} s warm-up), ` +
      `${opts.connections} connections; server on CPU ${opts.serverCpus ?? 'any'}, load generator on CPU ` +
      `${opts.loadCpus ?? 'any'}`,
  );
  const { serverUrl, coreName, dataDir } = await prepareBenchRun(out);
  out(`core database ${coreName}; provisioning ${tenantCount} tenants…`);
  const common: Record<string, string> = {
    NODE_ENV: 'production',
    DATABASE_URL: urlForDatabase(serverUrl, coreName),
    SECRET_KEY: randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
  };
  const lean = { ...common, LOG_LEVEL: 'warn', RATE_LIMIT: 'off', AUTH_RATE_LIMIT: 'off', ...serverEnv };
  const redisUrl = 'redis://127.0.0.1:6379';
  const withRedis = await redisAnswers(redisUrl);
  if (!withRedis)
    out('warning: no Redis on 127.0.0.1:6379: production scenarios count rate limits in memory');
  const production = {
    ...common,
    LOG_LEVEL: 'info',
    // Rate limiting on, counted on every request, at a limit one benchmark address does not reach.
    RATE_LIMIT: '100000000/minute',
    ...(withRedis ? { REDIS_URL: redisUrl } : {}),
    ...serverEnv,
  };
  const fleet = await createFleet({ env: lean, count: tenantCount, progress: out });
  const { tenants } = fleet;
  const first = tenants[0] as FleetTenant;

  let peerAvailable = !values['no-peer'];
  if (peerAvailable) {
    try {
      out(`peer: ${await checkFastapiPeer()}`);
    } catch (error) {
      peerAvailable = false;
      out(`peer skipped: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  const pin = opts.serverCpus === undefined ? {} : { cpuList: opts.serverCpus };
  const profile = (segment: string) =>
    opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(opts.cpuProfDir, segment)] : [];
  const tenantry = (env: Record<string, string>, logged: boolean) => async (segment: string) =>
    startServer({
      name: 'tenantry',
      script: 'src/main.ts',
      env,
      port: await freePort(),
      readyPath: '/health/ready',
      ...pin,
      ...(logged ? { stdoutFile: join(dataDir, `${segment}.log`) } : {}),
      nodeArgs: [...profile(segment), ...values['node-arg']],
    });
  const scenarios: Scenario[] = [
    {
      key: 'baseline',
      label: 'baseline: Fastify + pg, 1 database, no auth',
      kind: 'baseline',
      warm: 1,
      start: async (segment: string) =>
        startServer({
          name: 'baseline',
          nodeArgs: profile(segment),
          script: 'bench/baseline-server.ts',
          env: {
            NODE_ENV: 'production',
            DATABASE_URL: urlForDatabase(serverUrl, first.dbName),
            POOL_SIZE: '40',
          },
          port: await freePort(),
          readyPath: '/health/ready',
          ...pin,
        }),
      requests: requestsFor(tenants, `/users/${fleet.ownerTenantUserId}`),
      segments: [],
    },
  ];
  if (peerAvailable) {
    const peerTenants = tenants.slice(0, 40);
    scenarios.push({
      key: 'peer-40',
      label: `peer: FastAPI + asyncpg + uvloop, ${peerTenants.length} tenants, no auth`,
      kind: 'peer',
      warm: peerTenants.length,
      start: async () =>
        startFastapiPeer({
          port: await freePort(),
          serverUrl,
          tenants: peerTenants,
          userId: fleet.ownerTenantUserId,
          ...pin,
        }),
      requests: requestsFor(peerTenants, '/api/users/me'),
      segments: [],
    });
  }
  for (const w of opts.curve) {
    scenarios.push({
      key: `lean-${w}`,
      label: `Tenantry lean, ${w} tenants`,
      kind: 'tenantry',
      warm: w,
      start: tenantry(lean, false),
      requests: requestsFor(tenants.slice(0, w), '/api/users/me'),
      segments: [],
    });
  }
  for (const w of [10, 40].filter((n) => n <= tenantCount)) {
    scenarios.push({
      key: `production-${w}`,
      label: `Tenantry production defaults, ${w} tenants`,
      kind: 'tenantry',
      warm: w,
      start: tenantry(production, true),
      requests: requestsFor(tenants.slice(0, w), '/api/users/me'),
      segments: [],
    });
  }

  const summaries = await runRounds(scenarios, {
    serverUrl,
    coreName,
    rounds: opts.rounds,
    connections: opts.connections,
    warmupSeconds: opts.warmup,
    durationSeconds: opts.duration,
    loadCpus: opts.loadCpus,
    expectUserId: fleet.ownerTenantUserId,
    out,
  });
  printTables(summaries);
  const files = writeResults(opts.out, 'tenant-throughput', {
    machine,
    loadAverageAtEnd: loadavg()[0] ?? null,
    settings: { ...opts, tenants: tenantCount, serverEnv },
    summaries,
    markdown: `${machine}\n\n${markdownTable(summaries)}`,
  });
  out(`results: ${files.join(', ')}`);
  out(`total time ${((performance.now() - started) / 1000).toFixed(0)} s (before cleanup)`);
}

function printTables(summaries: readonly ScenarioSummary[]): void {
  out();
  out(table(HEADER, summaries.map(row)));
  const curve = summaries.filter((s) => s.key.startsWith('lean-'));
  const w10 = curve.find((s) => s.key === 'lean-10');
  const peer = summaries.find((s) => s.kind === 'peer');
  out();
  out('warm-set curve (lean settings, connection budget 40):');
  for (const s of curve) {
    out(
      `  W=${String(s.warm).padEnd(4)} ${fixed(s.requestsPerSecond, 0).padStart(6)} req/s  ` +
        `${w10 ? `${fixed(s.requestsPerSecond / w10.requestsPerSecond, 3)} × W=10` : ''}  ` +
        `${peer ? `${fixed(s.requestsPerSecond / peer.requestsPerSecond, 2)} × peer` : ''}  5xx ${s.serverErrors}`,
    );
  }
}

await runMain(main);
