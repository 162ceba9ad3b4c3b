/**
 * Throughput of an authenticated `GET /api/users/me` over many tenants (a random tenant per request) against a
 * plain Fastify + pg server doing the same primary-key select on one database, in the same run.
 *
 *   npx tsx bench/tenant-throughput.ts [--tenants 1000] [--duration 10] [--connections 50]
 *                                      [--rounds 2] [--warmup 2] [--warm-tenants 10] [--max-seconds 300]
 *                                      [--cpu-prof DIR] [--server-env NAME=VALUE ...]
 *
 * Three scenarios, each measured `--duration` seconds in total, split into `--rounds` segments interleaved
 * A B C / C B A … so that machine noise hits all of them alike; each segment starts its server as a child
 * process, warms it up for `--warmup` seconds, then measures:
 *   - Tenantry, every tenant: JWT + tenant resolution + a budget of 40 tenant connections for N databases;
 *   - Tenantry, `--warm-tenants` tenants only: their connections stay open (routing + JWT + resolution cost);
 *   - baseline: bench/baseline-server.ts, Fastify + pg.Pool(40) on one of the tenant databases.
 * Everything it creates (a `tenantry_bench_<random>` core database, its tenant databases, a temp directory,
 * the servers) is removed at the end, also on failure, Ctrl-C or the `--max-seconds` limit, and by a detached
 * janitor (lib/janitor-process.ts) if this process is killed outright.
 * BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the local server.
 * `--cpu-prof DIR` runs every Tenantry server with `node --cpu-prof`, one profile per segment under DIR/<segment>/.
 * `--server-env NAME=VALUE` (repeatable) sets a variable of every Tenantry server, to compare settings run against
 * run through the same-run baseline ratio (e.g. `--server-env DATABASE_QUERY_TIMEOUT_MS=0`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { guardRun, onCleanup, runMain } from './lib/cleanup.js';
import { createFleet, type FleetTenant } from './lib/fleet.js';
import { startJanitor } from './lib/janitor.js';
import { parseServerEnv } from './lib/server-env.js';
import { runLoad, type LoadResult, type PickRequest } from './lib/load.js';
import { scrapeManager, waitIdle } from './lib/metrics.js';
import { benchServerUrl, createDatabase, dropDatabaseFamily, urlForDatabase } from './lib/postgres.js';
import { fixed, mean, table } from './lib/report.js';
import { freePort, startServer, type ServerProcess } from './lib/server-process.js';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2' },
    'warm-tenants': { type: 'string', default: '10' },
    'max-seconds': { type: 'string', default: '300' },
    'cpu-prof': { type: 'string' },
    'server-env': { type: 'string', multiple: true, default: [] },
  },
});
const opts = {
  tenants: Number(values.tenants),
  duration: Number(values.duration),
  connections: Number(values.connections),
  rounds: Number(values.rounds),
  warmup: Number(values.warmup),
  warmTenants: Number(values['warm-tenants']),
  maxSeconds: Number(values['max-seconds']),
  cpuProfDir: values['cpu-prof'] === undefined ? null : resolve(values['cpu-prof']),
  serverEnv: values['server-env'],
};
const serverEnv = parseServerEnv(opts.serverEnv);
const positiveInts = [
  opts.tenants,
  opts.duration,
  opts.connections,
  opts.rounds,
  opts.warmTenants,
  opts.maxSeconds,
];
if (
  !positiveInts.every((n) => Number.isInteger(n) && n >= 1) ||
  !(Number.isInteger(opts.warmup) && opts.warmup >= 0) ||
  serverEnv === null
) {
  process.stderr.write(
    'usage: npx tsx bench/tenant-throughput.ts [--tenants N] [--duration S] [--connections C] [--rounds R]\n' +
      '                                          [--warmup S] [--warm-tenants N] [--max-seconds S]\n' +
      '                                          [--cpu-prof DIR] [--server-env NAME=VALUE ...]\n',
  );
  process.exit(2);
}
/** Whole seconds: autocannon samples once a second. */
const segmentSeconds = Math.max(1, Math.round(opts.duration / opts.rounds));
const warmCount = Math.min(opts.warmTenants, opts.tenants);

type ScenarioKey = 'tenantry' | 'warm' | 'baseline';

interface ManagerDelta {
  opened: number;
  evictions: number;
  timeouts: number;
  budget: number;
  connectionsAtEnd: number;
  openTenantsAtEnd: number;
}

interface Segment {
  load: LoadResult;
  manager: ManagerDelta | null;
}

interface Scenario {
  key: ScenarioKey;
  label: string;
  /** `segment` names the segment (e.g. `tenantry-round1`), for per-segment profiles. */
  start(segment: string): Promise<ServerProcess>;
  pick: PickRequest;
  segments: Segment[];
}

const out = (line = '') => process.stdout.write(`${line}\n`);

/** A random tenant's token and X-TENANT on every request; the baseline sends them too (and ignores them). */
function picker(tenants: readonly FleetTenant[], path: string): PickRequest {
  return () => {
    const tenant = tenants[Math.floor(Math.random() * tenants.length)] as FleetTenant;
    return { path, headers: { authorization: `Bearer ${tenant.token}`, 'x-tenant': String(tenant.id) } };
  };
}

/** One request before any load: the server answers 200 with the owner, or the benchmark stops here. */
async function checkAnswer(server: ServerProcess, pick: PickRequest, userId: number): Promise<void> {
  const { path, headers } = pick();
  const response = await fetch(`${server.baseUrl}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
  const body = await response.text();
  let id: unknown;
  try {
    id = (JSON.parse(body) as { id?: unknown }).id;
  } catch {
    id = undefined;
  }
  if (response.status !== 200 || id !== userId) {
    throw new Error(`${server.name}: GET ${path} answered ${response.status} ${body.slice(0, 300)}`);
  }
}

async function runSegment(scenario: Scenario, round: number, userId: number): Promise<Segment> {
  const server = await scenario.start(`${scenario.key}-round${round}`);
  try {
    await checkAnswer(server, scenario.pick, userId);
    const load = { baseUrl: server.baseUrl, connections: opts.connections, pick: scenario.pick };
    if (opts.warmup > 0) await runLoad({ ...load, durationSeconds: opts.warmup });
    const before = scenario.key === 'baseline' ? null : await scrapeManager(server.baseUrl);
    const result = await runLoad({ ...load, durationSeconds: segmentSeconds });
    const after = before ? await scrapeManager(server.baseUrl) : null;
    // Let the server finish what autocannon left queued, so stopping it refuses no request.
    if (before) await waitIdle(server.baseUrl);
    const manager =
      before && after
        ? {
            opened: after.opened - before.opened,
            evictions: after.evictions - before.evictions,
            timeouts: after.timeouts - before.timeouts,
            budget: after.budget,
            connectionsAtEnd: after.connections,
            openTenantsAtEnd: after.openTenants,
          }
        : null;
    return { load: result, manager };
  } finally {
    await server.stop();
    const tail = server.logTail();
    if (tail.length > 0) {
      process.stderr.write(
        `  ${server.name} logged (last ${tail.length} lines):\n    ${tail.slice(-5).join('\n    ')}\n`,
      );
    }
  }
}

function describeSegment(segment: Segment): string {
  const { load, manager } = segment;
  let text =
    `${fixed(load.requestsPerSecond, 0).padStart(6)} req/s  p50 ${fixed(load.p50Ms)} ms  p99 ${fixed(load.p99Ms)} ms` +
    `  non-2xx ${load.non2xx}  errors ${load.errors}`;
  if (manager)
    text += `  [opened ${manager.opened}, evictions ${manager.evictions}, timeouts ${manager.timeouts}]`;
  return text;
}

function ratioRow(label: string, a: Scenario, b: Scenario): string[] {
  const perRound = a.segments.map(
    (s, i) => s.load.requestsPerSecond / (b.segments[i]?.load.requestsPerSecond ?? NaN),
  );
  const overall =
    mean(a.segments.map((s) => s.load.requestsPerSecond)) /
    mean(b.segments.map((s) => s.load.requestsPerSecond));
  return [label, fixed(overall, 3), perRound.map((r) => fixed(r, 3)).join(', ')];
}

function managerLine(scenario: Scenario): string | null {
  const deltas = scenario.segments.map((s) => s.manager).filter((m): m is ManagerDelta => m !== null);
  if (deltas.length === 0) return null;
  const sum = (key: 'opened' | 'evictions' | 'timeouts') => deltas.reduce((total, m) => total + m[key], 0);
  const responses = scenario.segments.reduce((total, s) => total + s.load.responses, 0);
  const seconds = segmentSeconds * scenario.segments.length;
  const last = deltas[deltas.length - 1] as ManagerDelta;
  return (
    `  ${scenario.label}: opened ${sum('opened')} connections (${fixed(sum('opened') / seconds, 0)}/s, ` +
    `${fixed(sum('opened') / Math.max(1, responses), 2)} per request), evictions ${sum('evictions')}, ` +
    `timeouts ${sum('timeouts')}; at the end ${last.connectionsAtEnd}/${last.budget} connections ` +
    `over ${last.openTenantsAtEnd} tenants`
  );
}

async function main(): Promise<void> {
  guardRun({ maxSeconds: opts.maxSeconds });
  const started = performance.now();
  const serverUrl = benchServerUrl();
  const coreName = `tenantry_bench_${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-bench-'));
  startJanitor({ serverUrl, coreName, dataDir });
  onCleanup('remove the data directory', async () => rmSync(dataDir, { recursive: true, force: true }));
  onCleanup('drop the benchmark databases', async () => {
    const dropped = await dropDatabaseFamily(serverUrl, coreName);
    out(`cleanup: dropped ${dropped} databases (${coreName} and ${coreName}_*)`);
  });

  out(
    `tenant throughput: ${opts.tenants} tenants, ${opts.connections} connections, ${opts.rounds} rounds × ` +
      `${segmentSeconds} s per scenario (+${opts.warmup} s warm-up each), ${cpus().length} CPUs, ` +
      `load average ${loadavg()[0]?.toFixed(2)}`,
  );
  out(`core database ${coreName}; provisioning ${opts.tenants} tenants (10 at a time)…`);
  await createDatabase(serverUrl, coreName);
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    DATABASE_URL: urlForDatabase(serverUrl, coreName),
    SECRET_KEY: randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    RATE_LIMIT: 'off',
    AUTH_RATE_LIMIT: 'off',
    ...serverEnv,
  };
  const fleet = await createFleet({ env, count: opts.tenants, progress: out });
  const tenants = fleet.tenants;
  const first = tenants[0] as FleetTenant;
  out(
    `minted ${tenants.length} tenant tokens; owner is tenant user ${fleet.ownerTenantUserId} in every tenant`,
  );

  const startTenantry = async (segment: string) =>
    startServer({
      name: 'tenantry',
      script: 'src/main.ts',
      env,
      port: await freePort(),
      readyPath: '/health/ready',
      nodeArgs: opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(opts.cpuProfDir, segment)] : [],
    });
  const scenarios: Scenario[] = [
    {
      key: 'tenantry',
      label: `Tenantry, ${tenants.length} tenants`,
      start: startTenantry,
      pick: picker(tenants, '/api/users/me'),
      segments: [],
    },
    {
      key: 'baseline',
      label: 'baseline (Fastify + pg, 1 db)',
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
        }),
      pick: picker(tenants, `/users/${fleet.ownerTenantUserId}`),
      segments: [],
    },
    {
      key: 'warm',
      label: `Tenantry, ${warmCount} tenants (warm)`,
      start: startTenantry,
      pick: picker(tenants.slice(0, warmCount), '/api/users/me'),
      segments: [],
    },
  ];

  for (let round = 0; round < opts.rounds; round++) {
    const order = round % 2 === 0 ? scenarios : [...scenarios].reverse();
    for (const scenario of order) {
      const segment = await runSegment(scenario, round + 1, fleet.ownerTenantUserId);
      scenario.segments.push(segment);
      out(`  round ${round + 1}/${opts.rounds}  ${scenario.label.padEnd(32)} ${describeSegment(segment)}`);
    }
  }

  const [tenantry, baseline, warm] = scenarios as [Scenario, Scenario, Scenario];
  const rows = [tenantry, warm, baseline].map((s) => {
    const loads = s.segments.map((segment) => segment.load);
    const errors = loads.reduce((total, l) => total + l.non2xx + l.errors, 0);
    return [
      s.label,
      fixed(mean(loads.map((l) => l.requestsPerSecond)), 0),
      fixed(mean(loads.map((l) => l.p50Ms))),
      fixed(mean(loads.map((l) => l.p99Ms))),
      String(errors),
    ];
  });
  out();
  out(
    `results: mean of ${opts.rounds} interleaved segments of ${segmentSeconds} s, ${opts.connections} connections ` +
      `(latencies: mean of the segments' percentiles)`,
  );
  out(table(['server', 'req/s', 'p50 ms', 'p99 ms', 'errors'], rows));
  out();
  out(
    table(
      ['ratio of mean req/s (same run)', 'ratio', 'per round'],
      [
        ratioRow(`Tenantry ${tenants.length} tenants / baseline`, tenantry, baseline),
        ratioRow(`Tenantry ${warmCount} tenants / baseline`, warm, baseline),
        ratioRow(`Tenantry ${tenants.length} / Tenantry ${warmCount} tenants`, tenantry, warm),
      ],
    ),
  );
  out();
  const managerLines = [managerLine(tenantry), managerLine(warm)].filter((l): l is string => l !== null);
  if (managerLines.length > 0) {
    out('connection manager (measured windows only, from /metrics):');
    for (const line of managerLines) out(line);
  }
  for (const s of scenarios) {
    const bad = s.segments.flatMap((segment) =>
      Object.entries(segment.load.statusCodes).filter(([code]) => !code.startsWith('2')),
    );
    const errors = s.segments.reduce((total, segment) => total + segment.load.errors, 0);
    if (bad.length > 0 || errors > 0) {
      out(
        `WARNING ${s.label}: non-2xx ${bad.map(([code, n]) => `${code}×${n}`).join(', ') || 'none'}, ` +
          `connection errors/timeouts ${errors}`,
      );
    }
  }
  out(`total time ${((performance.now() - started) / 1000).toFixed(0)} s (before cleanup)`);
}

await runMain(main);
