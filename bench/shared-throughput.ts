/**
 * Shared placement throughput: authenticated `GET /api/users/me` over a long tail of small tenants, against the
 * plain Fastify + pg server doing the same primary-key select on one database, in the same run, interleaved.
 *
 *   npx tsx bench/shared-throughput.ts [--quick] [--shared 1000] [--dedicated 20] [--duration 5] [--rounds 2]
 *       [--warmup 3] [--connections 50] [--server-cpus 0] [--load-cpus 1] [--max-seconds 900]
 *       [--server-env NAME=VALUE ...] [--cpu-prof DIR] [--only KEY-PREFIX] [--out bench/results]
 *
 * The fleet: `--dedicated` tenants with a database each, then `--shared` tenants as schemas of shared databases
 * (TENANT_SHARED_PER_DATABASE 1,000: one shared database for the default 1,000). Scenarios, rounds in alternating
 * order:
 *   - baseline: bench/baseline-server.ts on the first dedicated tenant's database, no auth;
 *   - shared: a random one of the shared tenants per request (lean settings, and production defaults);
 *   - mix: 80% of requests on the dedicated tenants, 20% over the shared ones except the first 20 (lean);
 * all with the default connection budget (40 connections, 10 per shared database). Reported as
 * bench/tenant-throughput.ts does: req/s, ratio to the baseline, server CPU per request, p50/p99, errors,
 * PostgreSQL connections opened per request and the most held at once (tenant databases, shared ones included).
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, prepareBenchRun } from './lib/bench-run.js';
import { guardRun, runMain } from './lib/cleanup.js';
import { createFleet, type FleetTenant } from './lib/fleet.js';
import type { LoadRequest } from './lib/load.js';
import { urlForDatabase } from './lib/postgres.js';
import { redisAnswers } from './lib/redis-check.js';
import { table } from './lib/report.js';
import { writeResults } from './lib/results.js';
import { HEADER, markdownTable, row } from './lib/scenario-table.js';
import { runRounds } from './lib/rounds.js';
import type { Scenario } from './lib/segments.js';
import { freePort, startServer } from './lib/server-process.js';
import { parseServerEnv } from './lib/server-env.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    shared: { type: 'string', default: '1000' },
    dedicated: { type: 'string', default: '20' },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    'server-cpus': { type: 'string' },
    'load-cpus': { type: 'string' },
    'max-seconds': { type: 'string', default: '900' },
    'server-env': { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const quick = values.quick;
const twoCores = cpus().length >= 2;
const opts = {
  shared: Number(values.shared),
  dedicated: Number(values.dedicated),
  duration: Number(values.duration ?? (quick ? 3 : 5)),
  rounds: Number(values.rounds ?? (quick ? 1 : 2)),
  // 1,000 tenants are not all warm in a second: each one's first request resolves it, verifies a token and
  // builds its handle.
  warmup: Number(values.warmup ?? (quick ? 2 : 3)),
  connections: Number(values.connections),
  serverCpus: values['server-cpus'] ?? (twoCores ? '0' : undefined),
  loadCpus: values['load-cpus'] ?? (twoCores ? '1' : undefined),
  maxSeconds: Number(values['max-seconds']),
  cpuProfDir: values['cpu-prof'] === undefined ? null : resolve(values['cpu-prof']),
  /** Only the scenarios whose key starts with this (the baseline always runs). */
  only: values.only ?? null,
  out: resolve(values.out),
};
const parsedServerEnv = parseServerEnv(values['server-env']);
const positive = (n: number) => Number.isInteger(n) && n >= 1;
if (
  ![opts.shared, opts.dedicated, opts.duration, opts.rounds, opts.connections, opts.maxSeconds].every(
    positive,
  ) ||
  !(Number.isInteger(opts.warmup) && opts.warmup >= 0) ||
  opts.shared <= opts.dedicated ||
  parsedServerEnv === null
) {
  process.stderr.write(
    'usage: npx tsx bench/shared-throughput.ts [--quick] [--shared N] [--dedicated N < shared] [--duration S]\n' +
      '         [--rounds R] [--warmup S] [--connections C] [--server-cpus LIST] [--load-cpus LIST]\n' +
      '         [--max-seconds S] [--server-env NAME=VALUE ...] [--out DIR]\n',
  );
  process.exit(2);
}
const serverEnv = parsedServerEnv;
const out = (line = '') => process.stdout.write(`${line}\n`);

function requestsFor(tenants: readonly FleetTenant[], copies = 1): LoadRequest[] {
  return tenants.flatMap((tenant) =>
    Array.from({ length: copies }, () => ({
      path: '/api/users/me',
      headers: { authorization: `Bearer ${tenant.token}`, 'x-tenant': String(tenant.id) },
    })),
  );
}

/** `hot` get `share` of the requests (each request picks uniformly from the list), `cold` the rest. */
function weighted(hot: readonly FleetTenant[], cold: readonly FleetTenant[], share: number): LoadRequest[] {
  const hotCopies = Math.round((share / (1 - share)) * (cold.length / hot.length));
  return [...requestsFor(hot, hotCopies), ...requestsFor(cold)];
}

async function main(): Promise<void> {
  guardRun({ maxSeconds: opts.maxSeconds });
  const started = performance.now();
  const machine = describeMachine();
  out(`shared throughput: ${machine}`);
  const { serverUrl, coreName, dataDir } = await prepareBenchRun(out);
  const total = opts.dedicated + opts.shared;
  out(`core database ${coreName}; provisioning ${opts.dedicated} dedicated + ${opts.shared} shared tenants…`);
  const common: Record<string, string> = {
    NODE_ENV: 'production',
    DATABASE_URL: urlForDatabase(serverUrl, coreName),
    SECRET_KEY: randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
  };
  const lean = { ...common, LOG_LEVEL: 'warn', RATE_LIMIT: 'off', AUTH_RATE_LIMIT: 'off', ...serverEnv };
  const redisUrl = 'redis://127.0.0.1:6379';
  const withRedis = await redisAnswers(redisUrl);
  const production = {
    ...common,
    LOG_LEVEL: 'info',
    RATE_LIMIT: '100000000/minute',
    ...(withRedis ? { REDIS_URL: redisUrl } : {}),
    ...serverEnv,
  };
  const provisioningStarted = performance.now();
  const fleet = await createFleet({
    env: lean,
    count: total,
    kind: (i) => (i < opts.dedicated ? 'dedicated' : 'shared'),
    progress: out,
  });
  out(`fleet ready in ${((performance.now() - provisioningStarted) / 1000).toFixed(1)} s`);
  const dedicated = fleet.tenants.slice(0, opts.dedicated);
  const shared = fleet.tenants.slice(opts.dedicated);
  const first = dedicated[0] as FleetTenant;
  const sharedDatabases = new Set(shared.map((t) => t.dbName));
  out(`shared tenants in ${sharedDatabases.size} shared database(s): ${[...sharedDatabases].join(', ')}`);

  const pin = opts.serverCpus === undefined ? {} : { cpuList: opts.serverCpus };
  const tenantry = (env: Record<string, string>, logged: boolean) => async (segment: string) =>
    startServer({
      name: 'tenantry',
      script: 'src/main.ts',
      env,
      port: await freePort(),
      readyPath: '/health/ready',
      ...pin,
      ...(logged ? { stdoutFile: join(dataDir, `${segment}.log`) } : {}),
      nodeArgs: opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(opts.cpuProfDir, segment)] : [],
    });
  const scenarios: Scenario[] = [
    {
      key: 'baseline',
      label: 'baseline: Fastify + pg, 1 database, no auth',
      kind: 'baseline',
      warm: 1,
      start: async () =>
        startServer({
          name: 'baseline',
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
      requests: requestsFor(shared).map((r) => ({ ...r, path: `/users/${fleet.ownerTenantUserId}` })),
      segments: [],
    },
    {
      key: `shared-${shared.length}`,
      label: `Tenantry lean, ${shared.length} shared tenants, random`,
      kind: 'tenantry',
      warm: shared.length,
      start: tenantry(lean, false),
      requests: requestsFor(shared),
      segments: [],
    },
    {
      key: `mix-80-20`,
      label: `Tenantry lean, 80% on ${dedicated.length} dedicated, 20% over ${shared.length - 20} shared`,
      kind: 'tenantry',
      warm: dedicated.length + shared.length - 20,
      start: tenantry(lean, false),
      requests: weighted(dedicated, shared.slice(20), 0.8),
      segments: [],
    },
    {
      key: `production-shared-${shared.length}`,
      label: `Tenantry production defaults, ${shared.length} shared tenants`,
      kind: 'tenantry',
      warm: shared.length,
      start: tenantry(production, true),
      requests: requestsFor(shared),
      segments: [],
    },
  ];

  if (opts.only !== null) {
    const only = opts.only;
    scenarios.splice(1, scenarios.length, ...scenarios.slice(1).filter((s) => s.key.startsWith(only)));
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
  out();
  out(table(HEADER, summaries.map(row)));
  const files = writeResults(opts.out, 'shared-throughput', {
    machine,
    loadAverageAtEnd: loadavg()[0] ?? null,
    settings: { ...opts, serverEnv },
    summaries,
    markdown: `${machine}\n\n${markdownTable(summaries)}`,
  });
  out(`results: ${files.join(', ')}`);
  out(`total time ${((performance.now() - started) / 1000).toFixed(0)} s (before cleanup)`);
}

await runMain(main);
