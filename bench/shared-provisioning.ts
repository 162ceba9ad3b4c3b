/**
 * Provisioning shared tenants at scale: how long one takes (sequential, p50/p95), how fast many go (concurrent),
 * what they cost on disk and in the core database, and how long a no-op fleet migration over all of them takes.
 *
 *   npx tsx bench/shared-provisioning.ts [--engine postgres|pglite] [--count 10000] [--sequential 200]
 *       [--concurrency 8] [--max-seconds 1800] [--out bench/results]
 *
 * Defaults: PostgreSQL, 10,000 tenants (PGlite: 1,000), the first 200 one at a time (their latencies are the
 * p50/p95), the rest `--concurrency` at a time. Each provisioning is what `POST /api/organizations` runs after
 * inserting the row: placement chosen, role + schema + tenant migrations in one transaction, owner added,
 * `active`. Everything created (the core database, the shared databases, the tenants' roles, a temp directory)
 * is removed at the end, also on failure, Ctrl-C or --max-seconds.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { FleetMigrator } from '../src/tenancy/fleet/fleet-migrator.js';
import { describeMachine, prepareBenchRun } from './lib/bench-run.js';
import { guardRun, onCleanup, runMain, throwIfAborted } from './lib/cleanup.js';
import { adminQuery, urlForDatabase } from './lib/postgres.js';
import { writeResults } from './lib/results.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'postgres' },
    count: { type: 'string' },
    sequential: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    'max-seconds': { type: 'string', default: '1800' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const engine = values.engine;
const count = Number(values.count ?? (engine === 'pglite' ? 1_000 : 10_000));
const sequential = Math.min(Number(values.sequential), count);
const concurrency = Number(values.concurrency);
const positive = (n: number) => Number.isInteger(n) && n >= 1;
if (
  (engine !== 'postgres' && engine !== 'pglite') ||
  ![count, sequential, concurrency, Number(values['max-seconds'])].every(positive)
) {
  process.stderr.write(
    'usage: npx tsx bench/shared-provisioning.ts [--engine postgres|pglite] [--count N] [--sequential N]\n' +
      '         [--concurrency C] [--max-seconds S] [--out DIR]\n',
  );
  process.exit(2);
}
const out = (line = '') => process.stdout.write(`${line}\n`);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

/** Disk use of a directory in bytes (`du`), for the embedded engine. */
function diskBytes(path: string): number {
  return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
}

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;

async function main(): Promise<void> {
  guardRun({ maxSeconds: Number(values['max-seconds']) });
  const machine = describeMachine();
  out(`shared provisioning (${engine}): ${machine}`);
  const { serverUrl, coreName, dataDir } = await prepareBenchRun(out);
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    SECRET_KEY: randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    TENANT_PLACEMENT: 'shared',
    ...(engine === 'postgres' ? { DATABASE_URL: urlForDatabase(serverUrl, coreName) } : {}),
  };
  const app = await buildApp(loadConfig(env), { logger: false });
  const unregister = onCleanup('close the app', () => app.close());
  await app.ready();
  const { organizationRows, provisioner, storage } = app.services;
  const owner = await app.core.db
    .insertInto('core_users')
    .values({ email: 'bench-owner@example.com', password_hash: 'x', is_owner: true, is_verified: true })
    .returning('id')
    .executeTakeFirstOrThrow();
  const provisionOne = async (i: number): Promise<number> => {
    const org = await organizationRows.insert({
      name: `Shared ${i}`,
      slug: `shared-${i}`,
      owner_id: owner.id,
      placement_kind: 'shared',
    });
    const started = performance.now();
    await provisioner.provision(org.id);
    return performance.now() - started;
  };

  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < sequential; i++) {
    throwIfAborted();
    latencies.push(await provisionOne(i));
  }
  let next = sequential;
  let reported = sequential;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      throwIfAborted();
      await provisionOne(i);
      if (next - reported >= count / 10) {
        reported = next;
        const seconds = (performance.now() - started) / 1000;
        out(`  ${next}/${count} in ${seconds.toFixed(0)} s (${(next / seconds).toFixed(0)}/s)`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const totalSeconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);

  const shared = await storage.store.listSharedDatabases();
  let sharedBytes = 0;
  let coreBytes = 0;
  if (engine === 'postgres') {
    const { rows } = await adminQuery<{ datname: string; bytes: string }>(
      serverUrl,
      `select datname, pg_database_size(datname)::text as bytes from pg_database
        where datname = $1 or left(datname, length($1) + 8) = $1 || '_shared_'`,
      [coreName],
    );
    for (const row of rows) {
      if (row.datname === coreName) coreBytes = Number(row.bytes);
      else sharedBytes += Number(row.bytes);
    }
  } else {
    for (const name of shared) sharedBytes += diskBytes(join(dataDir, 'tenants', name));
    coreBytes = diskBytes(join(dataDir, 'core'));
  }

  const fleet = new FleetMigrator(app.core, storage, organizationRows);
  const migrateStarted = performance.now();
  const report = await fleet.migrate();
  const migrateMs = performance.now() - migrateStarted;
  if (report.skipped !== count || report.migrated.length > 0 || report.failed.length > 0) {
    throw new Error(`the no-op migration was not a no-op: ${JSON.stringify(report)}`);
  }
  unregister();
  await app.close();

  const lines = [
    `engine: ${engine}; ${count} shared tenants in ${shared.length} shared database(s)`,
    `provisioning one (sequential, n=${latencies.length}): p50 ${percentile(latencies, 0.5).toFixed(1)} ms, ` +
      `p95 ${percentile(latencies, 0.95).toFixed(1)} ms`,
    `all ${count}: ${totalSeconds.toFixed(1)} s (${(count / totalSeconds).toFixed(0)}/s; after the first ` +
      `${sequential}, ${concurrency} at a time)`,
    `disk: shared databases ${mib(sharedBytes)} (${(sharedBytes / count / 1024).toFixed(1)} KiB per tenant), ` +
      `core database ${mib(coreBytes)}`,
    `no-op tenantry migrate over them: ${migrateMs.toFixed(0)} ms (${report.skipped} skipped)`,
  ];
  out();
  for (const line of lines) out(line);
  const files = writeResults(resolve(values.out), `shared-provisioning-${engine}`, {
    machine,
    loadAverageAtEnd: loadavg()[0] ?? null,
    settings: { engine, count, sequential, concurrency },
    p50Ms: percentile(latencies, 0.5),
    p95Ms: percentile(latencies, 0.95),
    totalSeconds,
    sharedDatabases: shared.length,
    sharedBytes,
    coreBytes,
    noopMigrateMs: migrateMs,
    markdown: `${machine}\n\n${lines.map((line) => `- ${line}`).join('\n')}`,
  });
  out(`results: ${files.join(', ')}`);
}

await runMain(main);
