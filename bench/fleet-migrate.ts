/**
 * Fleet migration benchmark (PostgreSQL): the time of `tenantry migrate` over N tenants, as an operator runs it.
 *
 *   npx tsx bench/fleet-migrate.ts [--tenants 1000] [--concurrency 8] [--max-seconds 600]
 *
 * Measured, each as the wall time of a CLI process (what a deploy waits for) and the run's own time:
 *   - a no-op `migrate` (every tenant up to date), against the same CLI printing `--help` (process start-up);
 *   - a real one-column migration over every tenant, against the same ALTER TABLE sent straight to every tenant
 *     database with plain pg clients at the same concurrency (the floor for any migration tool).
 * Everything it creates (a `tenantry_bench_<random>` core database and its tenants, temporary folders) is
 * removed at the end, also on failure, Ctrl-C or the time limit. BENCH_DATABASE_URL names the local server.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrationFolder } from '../src/db/migrator.js';
import { guardRun, onCleanup, runMain } from './lib/cleanup.js';
import { createFleet } from './lib/fleet.js';
import { benchServerUrl, createDatabase, dropDatabaseFamily, urlForDatabase } from './lib/postgres.js';
import { fixed, table } from './lib/report.js';
import { REPO_ROOT } from './lib/server-process.js';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    'max-seconds': { type: 'string', default: '600' },
  },
});
const tenants = Number(values.tenants);
const concurrency = Number(values.concurrency);
const maxSeconds = Number(values['max-seconds']);
if (![tenants, concurrency, maxSeconds].every((n) => Number.isInteger(n) && n > 0)) {
  process.stderr.write(
    'usage: npx tsx bench/fleet-migrate.ts [--tenants N] [--concurrency N] [--max-seconds S]\n',
  );
  process.exit(2);
}

const NEW_MIGRATION = '2099_01_01_0000_bench_add_nickname';
const ADD_COLUMN = 'alter table tenant_users add column nickname text';
const DROP_COLUMN = 'alter table tenant_users drop column nickname';

/** Runs the CLI as a deploy would and returns its wall time and parsed JSON output. */
function cli(
  env: Record<string, string>,
  args: string[],
): Promise<{ ms: number; json: unknown; code: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/tenantry.mjs', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - started;
      let json: unknown = null;
      try {
        json = JSON.parse(out);
      } catch {
        // --help prints text
      }
      resolve({ ms, json, code: code ?? -1 });
    });
  });
}

/** The same DDL sent straight to every tenant database, `concurrency` at a time: the floor for any tool. */
async function rawDdl(serverUrl: string, databases: readonly string[], statement: string): Promise<number> {
  const queue = [...databases];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let db = queue.pop(); db !== undefined; db = queue.pop()) {
        const client = new pg.Client({ connectionString: urlForDatabase(serverUrl, db) });
        await client.connect();
        try {
          await client.query(statement);
        } finally {
          await client.end();
        }
      }
    }),
  );
  return performance.now() - started;
}

/** The shipped tenant migrations plus a one-column one, in a folder inside the repo (so `kysely` resolves). */
function migrationsWithNewColumn(): string {
  const folder = join(REPO_ROOT, 'bench', `.migrations-${randomBytes(4).toString('hex')}`);
  mkdirSync(folder);
  onCleanup('remove the benchmark migrations', async () => rmSync(folder, { recursive: true, force: true }));
  for (const file of readdirSync(migrationFolder('tenant'))) {
    copyFileSync(join(migrationFolder('tenant'), file), join(folder, file));
  }
  writeFileSync(
    join(folder, `${NEW_MIGRATION}.ts`),
    `import { sql, type Kysely } from 'kysely';
export async function up(db: Kysely<unknown>): Promise<void> { await sql\`${ADD_COLUMN}\`.execute(db); }
export async function down(db: Kysely<unknown>): Promise<void> { await sql\`${DROP_COLUMN}\`.execute(db); }
`,
  );
  return folder;
}

interface Report {
  migrated: number[];
  skipped: number;
  failed: unknown[];
  durationMs: number;
}

async function main(): Promise<void> {
  guardRun({ maxSeconds });
  const serverUrl = benchServerUrl();
  const core = `tenantry_bench_${randomBytes(4).toString('hex')}`;
  await createDatabase(serverUrl, core);
  onCleanup('drop the benchmark databases', async () => void (await dropDatabaseFamily(serverUrl, core)));
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-bench-'));
  onCleanup('remove the data directory', async () => rmSync(dataDir, { recursive: true, force: true }));
  const env = {
    DATABASE_URL: urlForDatabase(serverUrl, core),
    DATA_DIR: dataDir,
    SECRET_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'silent',
  };

  process.stdout.write(`creating ${tenants} tenants…\n`);
  const fleet = await createFleet({
    env,
    count: tenants,
    progress: (line) => process.stdout.write(`${line}\n`),
  });
  const databases = fleet.tenants.map((tenant) => tenant.dbName);

  const help = await cli(env, ['migrate', '--help']);
  const noop = await cli(env, ['migrate', '--json']);
  const noopReport = noop.json as Report;
  if (noop.code !== 0 || noopReport.migrated.length !== 0 || noopReport.skipped !== tenants) {
    throw new Error(`the no-op run was not a no-op: ${JSON.stringify(noop.json)}`);
  }

  process.stdout.write(`raw ALTER TABLE over ${tenants} databases (baseline)…\n`);
  const rawAdd = await rawDdl(serverUrl, databases, ADD_COLUMN);
  await rawDdl(serverUrl, databases, DROP_COLUMN);

  process.stdout.write(`tenantry migrate with a one-column migration over ${tenants} tenants…\n`);
  const real = await cli({ ...env, TENANTRY_TENANT_MIGRATIONS_DIR: migrationsWithNewColumn() }, [
    'migrate',
    '--json',
    '--concurrency',
    String(concurrency),
  ]);
  const realReport = real.json as Report;
  if (real.code !== 0 || realReport.migrated.length !== tenants) {
    throw new Error(`the migration did not reach every tenant: ${JSON.stringify(real.json).slice(0, 500)}`);
  }

  process.stdout.write(
    `\n${table(
      ['run', 'CLI wall s', 'in-run s', 'baseline s', 'ratio'],
      [
        [
          'no-op migrate',
          fixed(noop.ms / 1000, 2),
          fixed(noopReport.durationMs / 1000, 3),
          fixed(help.ms / 1000, 2),
          `${fixed(noop.ms / help.ms, 2)}× --help`,
        ],
        [
          'one-column migrate',
          fixed(real.ms / 1000, 2),
          fixed(realReport.durationMs / 1000, 2),
          fixed(rawAdd / 1000, 2),
          `${fixed(real.ms / rawAdd, 2)}× raw DDL`,
        ],
      ],
    )}\n`,
  );
  process.stdout.write(
    `\n${tenants} tenants, concurrency ${concurrency}. "baseline": the CLI printing --help (start-up only) for the ` +
      'no-op; the same ALTER TABLE sent straight to every database for the real migration.\n',
  );
}

void runMain(main);
