/**
 * Move window benchmark (PostgreSQL): how long a tenant with N rows answers 503 while it is moved
 * (dedicated → shared, then shared → dedicated), as `tenantry tenants move` runs it.
 *
 *   npx tsx bench/move-window.ts [--rows 100000] [--max-seconds 300]
 *
 * The window is measured by the mover itself, from the freeze on the core row to the switch (MoveResult
 * .unavailableMs); the rows are tenant users inserted with generate_series. Everything it creates (a
 * `tenantry_bench_<random>` core database, its tenant databases and roles, a temporary folder) is removed at the
 * end, also on failure, Ctrl-C or the time limit. BENCH_DATABASE_URL names the local server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { placementFromRow, type TenantPlacement } from '../src/tenancy/placement/placement.js';
import type { Organization } from '../src/db/core-schema.js';
import { guardRun, onCleanup, runMain } from './lib/cleanup.js';
import {
  benchServerUrl,
  createDatabase,
  dropDatabaseFamily,
  dropTenantRoles,
  urlForDatabase,
} from './lib/postgres.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '100000' }, 'max-seconds': { type: 'string', default: '300' } },
});
const rows = Number(values.rows);
const maxSeconds = Number(values['max-seconds']);
if (![rows, maxSeconds].every((n) => Number.isInteger(n) && n > 0)) {
  process.stderr.write('usage: npx tsx bench/move-window.ts [--rows N] [--max-seconds S]\n');
  process.exit(2);
}

await runMain(async () => {
  guardRun({ maxSeconds });
  const server = benchServerUrl();
  const core = `tenantry_bench_${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-move-bench-'));
  onCleanup('bench databases', async () => {
    await dropDatabaseFamily(server, core);
    await dropTenantRoles(server, core);
    rmSync(dataDir, { recursive: true, force: true });
  });
  await createDatabase(server, core);
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: urlForDatabase(server, core),
    DATA_DIR: dataDir,
    SECRET_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
  });
  const app = await buildApp(config, { logger: false });
  onCleanup('app', () => app.close());
  await app.ready();
  const { services } = app;
  const owner = await app.core.db
    .insertInto('core_users')
    .values({ email: 'bench-owner@example.com', password_hash: 'x', is_owner: true, is_verified: true })
    .returning('id')
    .executeTakeFirstOrThrow();
  const inserted = await services.organizationRows.insertWithSlug(owner.id, 'Move bench', 'move-bench');
  await services.provisioner.provision(inserted.id);
  const placement = async () =>
    placementFromRow(
      (await services.organizationRows.findById(inserted.id)) as Organization,
      services.store.server,
    ) as TenantPlacement;
  await sql`insert into tenant_users (email, password_hash, role)
            select 'user' || n || '@example.com', 'not-a-hash', 'member' from generate_series(1, ${rows}) n`.execute(
    services.storage.handle(await placement()),
  );
  process.stdout.write(
    `tenant ${inserted.id}: ${rows} rows (+ the owner); load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  for (const kind of ['shared', 'dedicated'] as const) {
    const result = await services.mover.move(inserted.id, { kind });
    process.stdout.write(
      `${result.from} → ${result.to}: ${result.rows} rows copied, unavailable ${result.unavailableMs} ms` +
        ` (load average ${loadavg()[0]?.toFixed(2)})\n`,
    );
  }
});
