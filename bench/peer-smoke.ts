/**
 * Smoke test of the FastAPI peer (bench/peers/fastapi_app.py, started by lib/peer-process.ts): three tenant
 * databases `tenantry_peer_smoke_<random>_<n>` with Tenantry's tenant_users table and one row each, the peer over
 * them, its answers checked (200 + the user of the right tenant, 404 unknown tenant, 400 without X-TENANT, the
 * connection budget respected, LRU eviction under a tight budget), then a short autocannon load over the three
 * tenants. Everything is removed at the end, also on failure, Ctrl-C or the `--max-seconds` limit.
 *
 *   npx tsx bench/peer-smoke.ts [--duration 3] [--connections 50] [--peer-cpus 0] [--load-cpus 1] [--max-seconds 90]
 *   npx tsx bench/peer-smoke.ts --peer-cpus 0 --load-cpus 1    # peer on CPU 0, load generator (a process) on CPU 1
 *
 * Needs scripts/install-bench-peer.sh (Debian packages) and PostgreSQL on BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { guardRun, onCleanup, runMain } from './lib/cleanup.js';
import { startJanitor } from './lib/janitor.js';
import { runLoad } from './lib/load.js';
import { processCpuSeconds } from './lib/process-cpu.js';
import { checkFastapiPeer, startFastapiPeer } from './lib/peer-process.js';
import {
  adminQuery,
  benchServerUrl,
  createDatabase,
  dropDatabaseFamily,
  urlForDatabase,
} from './lib/postgres.js';
import { fixed } from './lib/report.js';
import { freePort, type ServerProcess } from './lib/server-process.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    'peer-cpus': { type: 'string' },
    'load-cpus': { type: 'string' },
    'max-seconds': { type: 'string', default: '90' },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const maxSeconds = Number(values['max-seconds']);
const peerCpus = values['peer-cpus'];
const loadCpus = values['load-cpus'];
if (
  ![duration, connections, maxSeconds].every((n) => Number.isInteger(n) && n >= 1) ||
  duration > 10 ||
  (peerCpus !== undefined && !/^[0-9][0-9,-]*$/.test(peerCpus))
) {
  process.stderr.write(
    'usage: npx tsx bench/peer-smoke.ts [--duration S (1-10)] [--connections C] [--peer-cpus LIST] [--load-cpus LIST] [--max-seconds S]\n',
  );
  process.exit(2);
}

const TENANT_COUNT = 3;
/** Not 1, so that an answer of the first identity row could not pass by chance. */
const USER_ID = 7;
const out = (line = '') => process.stdout.write(`${line}\n`);
const loadLine = () =>
  `load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`;

// Tenantry's tenant_users (src/db/migrations/tenant/), without the other tables the peer does not read.
const TENANT_USERS = `
create table tenant_users (
  id integer primary key generated always as identity,
  email text not null unique,
  password_hash text,
  role text not null default 'member' check (role in ('owner', 'admin', 'member')),
  is_active boolean not null default true,
  core_user_id integer unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tenant_users_email_lower check (email = lower(email))
)`;

async function setUpTenant(serverUrl: string, dbName: string, n: number): Promise<void> {
  await createDatabase(serverUrl, dbName);
  const client = new pg.Client({
    connectionString: urlForDatabase(serverUrl, dbName),
    connectionTimeoutMillis: 5_000,
  });
  await client.connect();
  try {
    await client.query(TENANT_USERS);
    await client.query(
      `insert into tenant_users (id, email, role, core_user_id) overriding system value values ($1, $2, 'owner', 1)`,
      [USER_ID, `owner-${n}@example.com`],
    );
  } finally {
    await client.end();
  }
}

async function get(
  server: ServerProcess,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.baseUrl}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the error message
  }
  return { status: response.status, body };
}

function expect(condition: boolean, what: string, got: unknown): void {
  if (!condition) throw new Error(`${what}: got ${JSON.stringify(got)}`);
}

/**
 * The peer's sessions on the smoke databases, once at most `limit` (a closed connection's backend may linger
 * a moment in pg_stat_activity): polled for up to 3 s, then the last count.
 */
async function peerConnections(serverUrl: string, core: string, limit: number): Promise<number> {
  for (const deadline = Date.now() + 3_000; ;) {
    const { rows } = await adminQuery<{ n: string }>(
      serverUrl,
      `select count(*) as n from pg_stat_activity
        where application_name = 'tenantry-bench-peer' and left(datname, length($1) + 1) = $1 || '_'`,
      [core],
    );
    const count = Number(rows[0]?.n ?? 0);
    if (count <= limit || Date.now() > deadline) return count;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  guardRun({ maxSeconds });
  const serverUrl = benchServerUrl();
  out(`peer: ${await checkFastapiPeer()}`);
  const core = `tenantry_peer_smoke_${randomBytes(4).toString('hex')}`;
  const scratch = mkdtempSync(join(tmpdir(), 'tenantry-peer-smoke-'));
  startJanitor({ serverUrl, coreName: core, dataDir: scratch });
  onCleanup('remove the scratch directory', async () => rmSync(scratch, { recursive: true, force: true }));
  onCleanup('drop the smoke databases', async () => {
    const dropped = await dropDatabaseFamily(serverUrl, core);
    out(`cleanup: dropped ${dropped} databases (${core}_*)`);
  });

  const tenants = Array.from({ length: TENANT_COUNT }, (_, i) => ({
    id: 101 + i,
    dbName: `${core}_${i + 1}`,
  }));
  await Promise.all(tenants.map((t, i) => setUpTenant(serverUrl, t.dbName, i + 1)));
  out(`created ${tenants.map((t) => t.dbName).join(', ')}`);

  const started = performance.now();
  const peer = await startFastapiPeer({
    port: await freePort(),
    serverUrl,
    tenants,
    userId: USER_ID,
    ...(peerCpus === undefined ? {} : { cpuList: peerCpus }),
  });
  try {
    const comm = readFileSync(`/proc/${peer.pid}/comm`, 'utf8').trim();
    out(
      `peer ready in ${fixed(performance.now() - started, 0)} ms at ${peer.baseUrl}, pid ${peer.pid} (${comm})` +
        (peerCpus === undefined ? '' : `, CPUs ${peerCpus}`),
    );
    expect(comm.startsWith('python'), 'pid is the Python process', comm);

    const auth = { authorization: 'Bearer not-verified' };
    for (const [i, tenant] of tenants.entries()) {
      const { status, body } = await get(peer, '/api/users/me', { ...auth, 'x-tenant': String(tenant.id) });
      const user = body as Record<string, unknown>;
      expect(status === 200, `tenant ${tenant.id}: status 200`, { status, body });
      expect(
        user.id === USER_ID &&
          user.email === `owner-${i + 1}@example.com` &&
          user.role === 'owner' &&
          user.is_active === true &&
          typeof user.created_at === 'string' &&
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(user.created_at) &&
          Object.keys(user).sort().join() === 'created_at,email,id,is_active,role',
        `tenant ${tenant.id}: Tenantry's tenant user view`,
        body,
      );
    }
    out(
      `200 for each tenant, e.g. ${JSON.stringify((await get(peer, '/api/users/me', { ...auth, 'x-tenant': '101' })).body)}`,
    );
    const unknown = await get(peer, '/api/users/me', { ...auth, 'x-tenant': '999999' });
    expect(unknown.status === 404, 'unknown tenant: 404', unknown);
    const missing = await get(peer, '/api/users/me', auth);
    expect(missing.status === 400, 'no X-TENANT: 400', missing);
    out(
      `404 for an unknown tenant ${JSON.stringify(unknown.body)}, 400 without X-TENANT ${JSON.stringify(missing.body)}`,
    );

    const requests = tenants.map((tenant) => ({
      path: '/api/users/me',
      headers: { ...auth, 'x-tenant': String(tenant.id) },
    }));
    out(`load: ${duration} s, ${connections} connections, ${cpus().length} CPUs, before: ${loadLine()}`);
    let cpuAtStart = 0;
    let loadStarted = 0;
    const result = await runLoad({
      baseUrl: peer.baseUrl,
      connections,
      warmupSeconds: 0,
      durationSeconds: duration,
      requests,
      ...(loadCpus === undefined ? {} : { cpuList: loadCpus }),
      onWarm: () => {
        cpuAtStart = processCpuSeconds(peer.pid) ?? 0;
        loadStarted = performance.now();
      },
    });
    const cpuSeconds = (processCpuSeconds(peer.pid) ?? 0) - cpuAtStart;
    const wall = (performance.now() - loadStarted) / 1000;
    out(
      `  ${fixed(result.requestsPerSecond, 0)} req/s  p50 ${fixed(result.p50Ms)} ms  p99 ${fixed(result.p99Ms)} ms  ` +
        `responses ${result.responses}  non-2xx ${result.non2xx}  errors ${result.errors}  ` +
        `peer CPU ${fixed((100 * cpuSeconds) / wall, 0)}%`,
    );
    out(`  after: ${loadLine()}`);
    const open = await peerConnections(serverUrl, core, 40);
    out(
      `  peer connections to PostgreSQL after the load: ${open} (budget 40, ${TENANT_COUNT} tenants × pool 4)`,
    );
    expect(result.non2xx === 0 && result.errors === 0, 'load without errors', result.statusCodes);
    expect(open <= 40, 'connections within the budget', open);
  } finally {
    await peer.stop();
    const tail = peer.logTail();
    if (tail.length > 0) process.stderr.write(`  peer logged:\n    ${tail.slice(-10).join('\n    ')}\n`);
  }

  // A budget of 2 connections for 3 tenants: one connection per tenant, 2 pools open, LRU eviction.
  const tight = await startFastapiPeer({
    port: await freePort(),
    serverUrl,
    tenants,
    userId: USER_ID,
    maxConnections: 2,
  });
  try {
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        get(tight, '/api/users/me', { 'x-tenant': String(tenants[i % TENANT_COUNT]?.id) }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(
      statuses.every((s) => s === 200),
      'tight budget: 60 concurrent requests over 3 tenants answered 200',
      statuses,
    );
    const open = await peerConnections(serverUrl, core, 2);
    expect(open <= 2, 'tight budget: at most 2 connections', open);
    out(
      `tight budget (2 connections, 3 tenants): 60 concurrent requests answered 200, ${open} connections open`,
    );
  } finally {
    await tight.stop();
  }
  const left = await peerConnections(serverUrl, core, 0);
  expect(left === 0, 'no peer connection left after stop', left);
  out('peer smoke: OK');
}

await runMain(main);
