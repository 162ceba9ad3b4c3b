import { OrganizationsRepository } from '../../src/modules/organizations/organizations.repository.js';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { MIGRATIONS_DIR_ENV, migrationFolder } from '../../src/db/migrator.js';
import { FleetMigrator } from '../../src/tenancy/fleet/fleet-migrator.js';
import {
  placementFromRow,
  sharedPlacement,
  type TenantPlacement,
} from '../../src/tenancy/placement/placement.js';
import { PROVISIONING_STEPS, SimulatedCrashError } from '../../src/tenancy/lifecycle/provisioner.js';
import { latestTenantMigration } from '../../src/tenancy/fleet/tenant-migrations.js';
import {
  createTenancyFixture,
  insertOrganization,
  organization,
  type TenancyFixture,
} from '../helpers/core-fixtures.js';
import { REPO_ROOT } from '../helpers/server-process.js';
import { TEST_ENGINE } from '../helpers/test-env.js';

const NEW_MIGRATION = '2099_01_01_0000_add_notes';

/** The shipped tenant migrations plus one more, set for this whole process before any migration is loaded. */
const migrations = join(REPO_ROOT, 'test', `.migrations-shared-${process.pid}-${Date.now()}`);
mkdirSync(migrations);
for (const file of readdirSync(migrationFolder('tenant')))
  copyFileSync(join(migrationFolder('tenant'), file), join(migrations, file));
writeFileSync(
  join(migrations, `${NEW_MIGRATION}.ts`),
  `import type { Kysely } from 'kysely';
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('tenant_notes').addColumn('id', 'integer', (c) => c.primaryKey()).execute();
}
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tenant_notes').execute();
}
`,
);
process.env[MIGRATIONS_DIR_ENV.tenant] = migrations;

let fx: TenancyFixture;
before(async () => {
  fx = await createTenancyFixture({ TENANT_PLACEMENT: 'shared' });
  await fx.store.prepare();
});
after(async () => {
  await fx?.close();
  rmSync(migrations, { recursive: true, force: true });
});

async function placementOf(orgId: number): Promise<TenantPlacement> {
  const placement = placementFromRow(await organization(fx.core.db, orgId), fx.store.server);
  assert.ok(placement, 'the organization has a placement');
  return placement;
}

/** The tenant users of a shared tenant, read through its role-bound handle. */
async function users(orgId: number) {
  return fx.storage.withTenant(await placementOf(orgId), (db) =>
    db.selectFrom('tenant_users').select(['email', 'role']).execute(),
  );
}

async function hasNotes(orgId: number): Promise<boolean> {
  const placement = await placementOf(orgId);
  return fx.storage.withTenant(placement, async (db) => {
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from information_schema.tables
       where table_schema = ${placement.schema} and table_name = 'tenant_notes'`.execute(db);
    return rows[0]?.n === 1;
  });
}

describe(`shared tenants' lifecycle (${TEST_ENGINE})`, () => {
  it('provisions 8 shared tenants at once into a shared database that does not exist yet', async () => {
    assert.deepEqual(await fx.store.listSharedDatabases(), []);
    const orgs = await Promise.all(
      Array.from({ length: 8 }, () => insertOrganization(fx.core.db, { placement_kind: 'shared' })),
    );
    const provisioned = await Promise.all(orgs.map((org) => fx.provisioner().provision(org.id)));
    assert.deepEqual(
      provisioned.map((org) => org.status),
      Array(8).fill('active'),
    );
    assert.deepEqual(await fx.store.listSharedDatabases(), [fx.store.sharedDatabaseName(1)]);
    for (const org of orgs) assert.equal((await users(org.id)).length, 1);
  });

  it('provisions a shared tenant as a migrated schema with its owner, and deletes only it', async () => {
    const a = await insertOrganization(fx.core.db, { placement_kind: 'shared' });
    const b = await insertOrganization(fx.core.db, { placement_kind: 'shared' });
    await fx.provisioner().provision(a.id);
    await fx.provisioner().provision(b.id);
    const row = await organization(fx.core.db, a.id);
    assert.equal(row.status, 'active');
    assert.equal(row.placement_kind, 'shared');
    assert.equal(row.tenant_schema, `t_${a.id}`);
    assert.equal(row.tenant_db_name, fx.store.sharedDatabaseName(1));
    assert.equal(row.schema_version, await latestTenantMigration());
    assert.deepEqual(
      (await users(a.id)).map((u) => u.role),
      ['owner'],
    );
    assert.equal(await hasNotes(a.id), true, 'every tenant migration ran in the schema');

    await fx.provisioner().deprovision(a.id);
    assert.equal((await organization(fx.core.db, a.id)).status, 'deleted');
    assert.equal(await fx.storage.exists(await placementOf(a.id)), false);
    const roles = await fx.storage.schemas.listRoles((await placementOf(b.id)).address);
    assert.ok(!roles.some((r) => r.orgId === a.id), 'its role is dropped');
    assert.ok(
      roles.some((r) => r.orgId === b.id),
      'the neighbour keeps its role',
    );
    assert.equal((await users(b.id)).length, 1, 'the neighbour keeps its data');
  });

  for (const step of PROVISIONING_STEPS) {
    it(`a crash after "${step}" is finished by reconcile, with no orphan schema`, async () => {
      const { id } = await insertOrganization(fx.core.db, { placement_kind: 'shared' });
      await assert.rejects(fx.provisioner({ failAfterStep: step }).provision(id), SimulatedCrashError);
      assert.equal((await organization(fx.core.db, id)).status, 'provisioning');
      const report = await fx.provisioner().reconcile();
      assert.ok(report.completed.includes(id), JSON.stringify(report));
      assert.equal((await organization(fx.core.db, id)).status, 'active');
      assert.deepEqual(
        (await users(id)).map((u) => u.role),
        ['owner'],
      );
      assert.deepEqual(report.orphansDropped, []);
    });
  }

  it('reconcile drops a schema and role no live organization owns, and keeps the live ones', async () => {
    const live = await insertOrganization(fx.core.db, { placement_kind: 'shared' });
    await fx.provisioner().provision(live.id);
    const database = fx.store.sharedDatabaseName(1);
    const orphan = sharedPlacement(fx.store.server, database, fx.store.sharedNames.schema(1_900_000_000));
    await fx.storage.schemas.create(orphan, 1_900_000_000);
    assert.equal(await fx.storage.exists(orphan), true);
    const report = await fx.provisioner().reconcile();
    assert.deepEqual(report.orphansDropped, [`${database}/t_1900000000`]);
    assert.equal(await fx.storage.exists(orphan), false);
    const roles = await fx.storage.schemas.listRoles(orphan.address);
    assert.ok(!roles.some((r) => r.orgId === 1_900_000_000), 'the orphan role is dropped');
    assert.equal(await fx.storage.exists(await placementOf(live.id)), true);
  });

  it('fleet migrations run per shared schema: behind ones migrated, a failing one alone recorded', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { id } = await insertOrganization(fx.core.db, { placement_kind: 'shared' });
      await fx.provisioner().provision(id);
      ids.push(id);
    }
    const [rolled, broken, current] = ids as [number, number, number];
    const fleet = new FleetMigrator(fx.core, fx.storage, new OrganizationsRepository(fx.core.db));
    const back = await fleet.rollbackTenants({ tenant: String(rolled) });
    assert.deepEqual(back.failed, []);
    assert.equal(await hasNotes(rolled), false, 'rolled back one migration');
    await fleet.rollbackTenants({ tenant: String(broken) });
    // A table in the way makes the new migration fail in this schema only.
    await fx.storage.withTenant(await placementOf(broken), (db) =>
      sql`create table tenant_notes (other text)`.execute(db),
    );

    const report = await fleet.migrate();
    assert.ok(report.migrated.includes(rolled), JSON.stringify(report));
    assert.deepEqual(
      report.failed.map((f) => f.id),
      [broken],
    );
    assert.ok(!report.migrated.includes(current), 'up-to-date tenants are skipped');
    assert.equal(await hasNotes(rolled), true);
    assert.equal(await hasNotes(current), true);
    const failed = await organization(fx.core.db, broken);
    assert.equal(failed.migration_state, 'failed');
    // The failed migration changed nothing in its schema (one transaction), and the neighbours are fine.
    const { rows } = await fx.storage.withTenant(await placementOf(broken), (db) =>
      sql<{ column_name: string }>`
        select column_name from information_schema.columns
         where table_schema = current_schema() and table_name = 'tenant_notes'`.execute(db),
    );
    assert.deepEqual(
      rows.map((r) => r.column_name),
      ['other'],
    );
    assert.equal((await organization(fx.core.db, rolled)).schema_version, NEW_MIGRATION);
  });
});
