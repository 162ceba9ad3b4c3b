import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../src/errors.js';
import {
  FAIL_AFTER_STEP_ENV,
  PROVISIONING_STEPS,
  type Provisioner,
  SimulatedCrashError,
} from '../../src/tenancy/lifecycle/provisioner.js';
import { latestTenantMigration } from '../../src/tenancy/fleet/tenant-migrations.js';
import {
  createTenancyFixture,
  expectedDatabases,
  insertOrganization,
  organization,
  tenantUsers,
  type TenancyFixture,
} from '../helpers/core-fixtures.js';
import { FaultyStore } from '../helpers/faulty-store.js';
import { TEST_ENGINE } from '../helpers/test-env.js';

let fx: TenancyFixture;
let provisioner: Provisioner;
before(async () => {
  fx = await createTenancyFixture();
  await fx.store.prepare();
  provisioner = fx.provisioner();
});
after(() => fx.close());

function provisionerWith(options: { store?: FaultyStore; failAfterStep?: string } = {}): Provisioner {
  return fx.provisioner(options);
}

function hasCode(code: string) {
  return (error: unknown) => error instanceof AppError && error.code === code;
}

/** After a reconcile, the databases that exist are exactly those of active/suspended organizations. */
async function assertNoOrphans(): Promise<void> {
  assert.deepEqual((await fx.store.list()).sort(), await expectedDatabases(fx.core.db));
}

/** The organization is active, recorded as fully provisioned, and its database holds exactly its owner. */
async function assertActive(orgId: number): Promise<void> {
  const org = await organization(fx.core.db, orgId);
  assert.equal(org.status, 'active');
  assert.equal(org.tenant_db_name, fx.store.databaseName(orgId));
  assert.equal(org.placement, fx.store.server);
  assert.equal(org.placement_kind, 'dedicated');
  assert.equal(org.tenant_schema, null);
  assert.equal(org.provisioning_step, 'owner_added');
  assert.equal(org.provisioning_error, null);
  assert.equal(org.schema_version, await latestTenantMigration());
  assert.equal(org.migration_state, 'ok');
  assert.ok(org.migrated_at instanceof Date);
  const owner = await fx.core.db
    .selectFrom('core_users')
    .select(['id', 'email'])
    .where('id', '=', org.owner_id)
    .executeTakeFirstOrThrow();
  const users = await tenantUsers(fx.store, org.tenant_db_name);
  assert.equal(users.length, 1);
  assert.equal(users[0]?.email, owner.email);
  assert.equal(users[0]?.role, 'owner');
  assert.equal(users[0]?.core_user_id, owner.id);
  assert.equal(users[0]?.password_hash, null);
  assert.equal(users[0]?.is_active, true);
}

describe(`provisioner (${TEST_ENGINE})`, () => {
  it('provisions an organization, and deprovisions it', async () => {
    const { id } = await insertOrganization(fx.core.db);
    const org = await provisioner.provision(id);
    assert.equal(org.status, 'active');
    await assertActive(id);
    const name = fx.store.databaseName(id);
    assert.equal(await fx.store.exists(name), true);

    const again = await provisioner.provision(id);
    assert.equal(again.status, 'active');
    assert.equal((await tenantUsers(fx.store, name)).length, 1, 'a second provision adds nothing');

    const calls: { name: string; existed: boolean }[] = [];
    await provisioner.deprovision(id, async (placement) => {
      const dbName = placement.address.database;
      calls.push({ name: dbName, existed: await fx.store.exists(dbName) });
    });
    assert.deepEqual(calls, [{ name, existed: true }], 'onBeforeDrop runs before the drop');
    assert.equal(await fx.store.exists(name), false);
    const deleted = await organization(fx.core.db, id);
    assert.equal(deleted.status, 'deleted');
    assert.ok(deleted.deleted_at instanceof Date);
    await provisioner.deprovision(id);
    assert.equal((await organization(fx.core.db, id)).status, 'deleted');
    await assert.rejects(provisioner.provision(id), hasCode('CONFLICT'));
  });

  it('rejects an organization that does not exist', async () => {
    await assert.rejects(provisioner.provision(2_000_000_000), hasCode('TENANT_NOT_FOUND'));
    await assert.rejects(provisioner.deprovision(2_000_000_000), hasCode('TENANT_NOT_FOUND'));
  });

  for (const step of PROVISIONING_STEPS) {
    it(`completes a provisioning that crashed right after "${step}"`, async () => {
      const { id } = await insertOrganization(fx.core.db);
      await assert.rejects(
        provisionerWith({ failAfterStep: step }).provision(id),
        (error) => error instanceof SimulatedCrashError && error.step === step,
      );
      const crashed = await organization(fx.core.db, id);
      assert.equal(crashed.status, 'provisioning');
      assert.equal(crashed.provisioning_step, step);
      assert.equal(crashed.tenant_db_name, fx.store.databaseName(id));
      assert.equal(await fx.store.exists(fx.store.databaseName(id)), step !== 'named');

      // A fresh provisioner, as after a restart.
      const report = await provisionerWith().reconcile();
      assert.ok(report.completed.includes(id), JSON.stringify(report));
      assert.ok(!report.failed.includes(id));
      await assertActive(id);
      await assertNoOrphans();
    });
  }

  it('takes the crash point from TENANTRY_FAIL_AFTER_STEP', async () => {
    const { id } = await insertOrganization(fx.core.db);
    process.env[FAIL_AFTER_STEP_ENV] = 'database_created';
    let crashing: Provisioner;
    try {
      crashing = provisionerWith();
      assert.throws(() => provisionerWith({ failAfterStep: 'half_done' }), /TENANTRY_FAIL_AFTER_STEP/);
    } finally {
      delete process.env[FAIL_AFTER_STEP_ENV];
    }
    await assert.rejects(crashing.provision(id), SimulatedCrashError);
    assert.equal((await organization(fx.core.db, id)).provisioning_step, 'database_created');
    await provisionerWith().provision(id);
    await assertActive(id);
  });

  it('leaves a provisioning still in progress to its process when reconciling with a grace period', async () => {
    const { id } = await insertOrganization(fx.core.db);
    await assert.rejects(
      provisionerWith({ failAfterStep: 'database_created' }).provision(id),
      SimulatedCrashError,
    );
    const report = await provisionerWith().reconcile({ graceMs: 60_000 });
    assert.ok(!report.completed.includes(id));
    assert.ok(!report.orphansDropped.includes(fx.store.databaseName(id)), 'its database is not an orphan');
    assert.equal((await organization(fx.core.db, id)).status, 'provisioning');
    assert.equal(await fx.store.exists(fx.store.databaseName(id)), true);
    assert.ok((await provisionerWith().reconcile()).completed.includes(id));
    await assertActive(id);
  });

  it('rolls back a crashed provisioning that cannot be completed; a retry succeeds', async () => {
    const { id } = await insertOrganization(fx.core.db);
    const name = fx.store.databaseName(id);
    await assert.rejects(
      provisionerWith({ failAfterStep: 'database_created' }).provision(id),
      SimulatedCrashError,
    );
    const faulty = new FaultyStore(fx.store);
    faulty.failOpen = 1;
    const report = await fx.provisioner({ store: faulty }).reconcile();
    assert.ok(report.failed.includes(id), JSON.stringify(report));
    const failed = await organization(fx.core.db, id);
    assert.equal(failed.status, 'failed');
    assert.match(failed.provisioning_error ?? '', /injected open failure/);
    assert.equal(failed.provisioning_step, 'named');
    assert.equal(await fx.store.exists(name), false, 'the half-made database was dropped');
    await assertNoOrphans();

    const again = await provisionerWith().reconcile();
    assert.ok(
      !again.completed.includes(id) && !again.failed.includes(id),
      'failed is not retried by reconcile',
    );
    await provisioner.provision(id);
    await assertActive(id);
  });

  it('a failing create leaves the organization failed with a code; provision again succeeds', async () => {
    const { id } = await insertOrganization(fx.core.db);
    const faulty = new FaultyStore(fx.store);
    faulty.failCreate = 1;
    const withFaults = fx.provisioner({ store: faulty });
    await assert.rejects(withFaults.provision(id), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'PROVISIONING_FAILED');
      assert.equal(error.statusCode, 503);
      assert.doesNotMatch(error.message, /injected/, 'internals stay out of the client-facing detail');
      assert.match(String((error.cause as Error).message), /injected create failure/);
      return true;
    });
    const failed = await organization(fx.core.db, id);
    assert.equal(failed.status, 'failed');
    assert.match(failed.provisioning_error ?? '', /injected create failure/);
    assert.equal(await fx.store.exists(fx.store.databaseName(id)), false);

    const org = await withFaults.provision(id);
    assert.equal(org.status, 'active');
    await assertActive(id);
  });

  it('a failure after the database was created drops it again; provision again succeeds', async () => {
    const { id } = await insertOrganization(fx.core.db);
    const faulty = new FaultyStore(fx.store);
    faulty.failOpen = 1;
    const withFaults = fx.provisioner({ store: faulty });
    await assert.rejects(withFaults.provision(id), hasCode('PROVISIONING_FAILED'));
    assert.equal((await organization(fx.core.db, id)).status, 'failed');
    assert.equal(await fx.store.exists(fx.store.databaseName(id)), false);
    await withFaults.provision(id);
    await assertActive(id);
  });

  it('shares one run between concurrent calls for the same organization', async () => {
    const { id } = await insertOrganization(fx.core.db);
    const [first, second] = await Promise.all([provisioner.provision(id), provisioner.provision(id)]);
    assert.equal(first.status, 'active');
    assert.deepEqual(first, second);
    await assertActive(id);
  });

  // PostgreSQL: 20. PGlite: 8, because every provisioning holds a PGlite instance (~170 MB of WASM memory)
  // while it adds the owner, and PGlite work runs on this one thread, so more at once only costs memory.
  const concurrent = TEST_ENGINE === 'postgres' ? 20 : 8;
  it(`provisions ${concurrent} organizations concurrently into distinct databases`, async () => {
    const orgs = await Promise.all(Array.from({ length: concurrent }, () => insertOrganization(fx.core.db)));
    const results = await Promise.all(orgs.map((org) => provisioner.provision(org.id)));
    assert.ok(results.every((org) => org.status === 'active'));
    const names = new Set(results.map((org) => org.tenant_db_name));
    assert.equal(names.size, concurrent);
    const listed = await fx.store.list();
    for (const name of names) assert.ok(listed.includes(name as string), `${name} exists`);
    for (const org of orgs) await assertActive(org.id);
    await assertNoOrphans();
  });

  it('reconcile finishes deletions and drops databases no live organization owns', async () => {
    // Unknown to the core: created directly.
    const unknown = fx.store.databaseName(1_900_000_000);
    await fx.store.create(unknown);
    // A deleted organization whose database was left behind.
    const deletedOrg = await insertOrganization(fx.core.db);
    await provisioner.provision(deletedOrg.id);
    await fx.core.db
      .updateTable('organizations')
      .set({ status: 'deleted', deleted_at: new Date() })
      .where('id', '=', deletedOrg.id)
      .execute();
    // A failed organization whose rollback did not get to drop its database.
    const failedOrg = await insertOrganization(fx.core.db);
    const failedName = fx.store.databaseName(failedOrg.id);
    await fx.store.create(failedName);
    await fx.core.db
      .updateTable('organizations')
      .set({ status: 'failed', tenant_db_name: failedName, provisioning_step: 'database_created' })
      .where('id', '=', failedOrg.id)
      .execute();
    // An organization whose deletion was interrupted after it was marked `deleting`.
    const deletingOrg = await insertOrganization(fx.core.db);
    await provisioner.provision(deletingOrg.id);
    await fx.core.db
      .updateTable('organizations')
      .set({ status: 'deleting' })
      .where('id', '=', deletingOrg.id)
      .execute();
    // A live organization, which must survive.
    const live = await insertOrganization(fx.core.db);
    await provisioner.provision(live.id);

    const report = await provisionerWith().reconcile();
    assert.deepEqual(
      [...report.orphansDropped].sort(),
      [unknown, fx.store.databaseName(deletedOrg.id), failedName].sort(),
    );
    assert.deepEqual(report.deleted, [deletingOrg.id]);
    for (const name of [unknown, fx.store.databaseName(deletedOrg.id), failedName]) {
      assert.equal(await fx.store.exists(name), false, name);
    }
    const deleting = await organization(fx.core.db, deletingOrg.id);
    assert.equal(deleting.status, 'deleted');
    assert.ok(deleting.deleted_at instanceof Date);
    assert.equal(await fx.store.exists(fx.store.databaseName(deletingOrg.id)), false);
    const failed = await organization(fx.core.db, failedOrg.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.provisioning_step, 'named');
    await assertActive(live.id);
    await assertNoOrphans();

    const quiet = await provisionerWith().reconcile();
    assert.deepEqual(quiet, {
      completed: [],
      failed: [],
      deleted: [],
      orphansDropped: [],
      movesRolledBack: [],
      movesFinished: [],
    });
  });
});
