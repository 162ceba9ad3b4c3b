/**
 * Provisioning benchmark: provisions N organizations one after another and reports the time per
 * organization, against a same-run baseline of creating a database without any template work
 * (PostgreSQL: a plain `CREATE DATABASE`; PGlite: a plain initdb).
 *
 *   npx tsx bench/provisioning.ts [--engine postgres|pglite] [--count 50] [--max-seconds 120]
 *
 * PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server and
 * a maintenance database; the run uses its own uniquely named core database and drops everything it
 * created at the end, also when interrupted (Ctrl-C) or failing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { loadConfig, type Config } from '../src/config.js';
import { openCoreDb } from '../src/db/core-database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { CoreUsersRepository } from '../src/modules/accounts/core-users.repository.js';
import { OrganizationsRepository } from '../src/modules/organizations/organizations.repository.js';
import { TenantUsersRepository } from '../src/modules/tenant-users/tenant-users.repository.js';
import { TenantConnectionManager } from '../src/tenancy/connections/connection-manager.js';
import { createTenantConnector } from '../src/tenancy/connections/connectors.js';
import { TenantStorage } from '../src/tenancy/placement/tenant-storage.js';
import { Provisioner } from '../src/tenancy/lifecycle/provisioner.js';
import { createTenantStore } from '../src/tenancy/stores/create-tenant-store.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'postgres' },
    count: { type: 'string', default: '50' },
    'max-seconds': { type: 'string', default: '120' },
  },
});
const engine = values.engine;
const count = Number(values.count);
const maxMs = Number(values['max-seconds']) * 1000;
if ((engine !== 'postgres' && engine !== 'pglite') || !(count >= 1) || !(maxMs > 0)) {
  process.stderr.write(
    'usage: npx tsx bench/provisioning.ts [--engine postgres|pglite] [--count N] [--max-seconds S]\n',
  );
  process.exit(2);
}
const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Only warnings and errors, to stderr: the numbers stay readable. */
function quietLogger(): FastifyBaseLogger {
  const noop = (): void => undefined;
  const write = (level: string) => (object: unknown, message?: string) =>
    process.stderr.write(`${level}: ${message ?? ''} ${JSON.stringify(object)}\n`);
  const logger: FastifyBaseLogger = {
    level: 'warn',
    fatal: write('fatal'),
    error: write('error'),
    warn: write('warn'),
    info: noop,
    debug: noop,
    trace: noop,
    silent: noop,
    child: () => logger,
  };
  return logger;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function summary(samples: number[]): { median: number; p95: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p95: percentile(sorted, 95), n: sorted.length };
}

async function admin(text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

let stopping = false;
process.once('SIGINT', () => {
  process.stderr.write('interrupted: finishing the current step, then cleaning up\n');
  stopping = true;
});

const started = Date.now();
const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-bench-'));
const coreName = `tenantry_bench_${randomBytes(4).toString('hex')}`;
const env: Record<string, string> = {
  NODE_ENV: 'test',
  DATA_DIR: dataDir,
  SECRET_KEY: randomBytes(32).toString('hex'),
  LOG_LEVEL: 'warn',
};
if (engine === 'postgres') {
  const url = new URL(serverUrl);
  url.pathname = `/${coreName}`;
  env.DATABASE_URL = url.toString();
}

/** Baseline: a database made with no template work. Returns its duration in ms. */
async function baselineOnce(config: Config, i: number): Promise<number> {
  if (engine === 'postgres') {
    const client = new pg.Client({ connectionString: config.databaseUrl as string });
    await client.connect();
    try {
      // Named with the core prefix, so the final clean-up finds it whatever happens in between.
      const name = `${coreName}_baseline_${i}`;
      const t0 = performance.now();
      await client.query(`create database ${pg.escapeIdentifier(name)}`);
      const ms = performance.now() - t0;
      await client.query(`drop database ${pg.escapeIdentifier(name)}`);
      return ms;
    } finally {
      await client.end();
    }
  }
  const dir = join(dataDir, `baseline-${i}`);
  const t0 = performance.now();
  const pglite = await PGlite.create({ dataDir: dir });
  const ms = performance.now() - t0;
  await pglite.close();
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

async function run(): Promise<void> {
  if (engine === 'postgres') await admin(`create database ${pg.escapeIdentifier(coreName)}`);
  const config = loadConfig(env);
  const core = await openCoreDb(config);
  const store = createTenantStore(config, quietLogger());
  try {
    await migrateToLatest(core.db, 'core');
    let t0 = performance.now();
    await store.prepare();
    const prepareMs = performance.now() - t0;
    // The copy step alone (CREATE DATABASE … TEMPLATE, or a file copy of PGlite's template directory).
    const copyMs: number[] = [];
    const timedStore = new Proxy(store, {
      get(target, property) {
        if (property === 'create') {
          return async (name: string) => {
            const t = performance.now();
            await target.create(name);
            copyMs.push(performance.now() - t);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const connections = new TenantConnectionManager(
      createTenantConnector(config, timedStore),
      config.tenantConnections,
    );
    const storage = new TenantStorage(timedStore, connections, {
      sharedPerDatabase: config.tenantSharedPerDatabase,
    });
    const provisioner = new Provisioner({
      organizations: new OrganizationsRepository(core.db),
      storage,
      coreUsers: new CoreUsersRepository(core.db),
      tenantUsers: new TenantUsersRepository(),
      log: quietLogger(),
    });
    const owner = await core.db
      .insertInto('core_users')
      .values({ email: 'bench-owner@example.com', password_hash: 'x', is_owner: true, is_verified: true })
      .returning('id')
      .executeTakeFirstOrThrow();

    // A plain initdb costs ~2 s, so PGlite's baseline takes fewer samples; interleaved with the
    // provisionings so that both see the same machine state.
    const baselineCount = Math.min(count, engine === 'postgres' ? 20 : 5);
    const provisionMs: number[] = [];
    const baselineMs: number[] = [];
    for (let i = 0; i < count; i++) {
      if (stopping || Date.now() - started > maxMs) {
        process.stderr.write(`stopped after ${i} organizations (time bound or interrupt)\n`);
        break;
      }
      const org = await core.db
        .insertInto('organizations')
        .values({ name: `Bench ${i}`, slug: `bench-${i}`, owner_id: owner.id })
        .returning('id')
        .executeTakeFirstOrThrow();
      t0 = performance.now();
      await provisioner.provision(org.id);
      provisionMs.push(performance.now() - t0);
      if (i < baselineCount) baselineMs.push(await baselineOnce(config, i));
    }

    const provisioned = summary(provisionMs);
    const copied = summary(copyMs);
    const baseline = summary(baselineMs);
    const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
    const lines = [
      `engine: ${engine}${engine === 'postgres' ? ` (${store.server})` : ''}`,
      `template prepared in ${fmt(prepareMs)} (first start: ${engine === 'postgres' ? 'create + migrate the template database' : 'initdb + migrate, in a child process'})`,
      `provision (org row → active, owner added), sequential, n=${provisioned.n}: median ${fmt(provisioned.median)}, p95 ${fmt(provisioned.p95)}`,
      `  of which the template copy (${engine === 'postgres' ? 'CREATE DATABASE … TEMPLATE' : 'file copy of the template directory'}): median ${fmt(copied.median)}, p95 ${fmt(copied.p95)}`,
      `baseline (${engine === 'postgres' ? 'plain CREATE DATABASE' : 'plain PGlite initdb'}), n=${baseline.n}: median ${fmt(baseline.median)}, p95 ${fmt(baseline.p95)}`,
      `ratio provision/baseline (medians): ${(provisioned.median / baseline.median).toFixed(2)}`,
    ];
    if (engine === 'postgres') {
      lines.push(`target p50 < 50 ms: ${provisioned.median < 50 ? 'met' : 'NOT met'}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await store.close();
    await core.close();
  }
}

async function cleanup(): Promise<void> {
  if (engine === 'postgres') {
    const { rows } = await admin(
      `select datname from pg_database where datname = '${coreName}' or datname like '${coreName}\\_%'`,
    );
    for (const { datname } of rows as { datname: string }[]) {
      await admin(`drop database if exists ${pg.escapeIdentifier(datname)} with (force)`);
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
}

try {
  await run();
} finally {
  await cleanup();
}
