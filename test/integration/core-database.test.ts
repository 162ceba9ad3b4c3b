import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NO_MIGRATIONS, sql } from 'kysely';
import { openCoreDb } from '../../src/db/core-database.js';
import { createMigrator, migrateToLatest } from '../../src/db/migrator.js';
import { createTestEnv, TEST_ENGINE, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
before(async () => {
  env = await createTestEnv();
});
after(() => env.cleanup());

async function tables(core: Awaited<ReturnType<typeof openCoreDb>>): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(
    core.db,
  );
  return rows.map((row) => row.table_name);
}

describe('core database', () => {
  it(`opens on the engine under test (${TEST_ENGINE}) and migrates the core schema`, async () => {
    const core = await openCoreDb(env.config);
    try {
      assert.equal(core.engine, TEST_ENGINE);
      await migrateToLatest(core.db, 'core');
      const names = await tables(core);
      for (const table of ['core_users', 'organizations', 'refresh_tokens', 'email_tokens', 'mail_outbox']) {
        assert.ok(names.includes(table), `${table} in ${names.join(',')}`);
      }
    } finally {
      await core.close();
    }
  });

  it('enforces lower-case unique emails and live-unique slugs', async () => {
    const core = await openCoreDb(env.config);
    try {
      await migrateToLatest(core.db, 'core');
      const user = await core.db
        .insertInto('core_users')
        .values({ email: 'owner@example.com', password_hash: 'x' })
        .returning(['id', 'created_at'])
        .executeTakeFirstOrThrow();
      assert.ok(user.created_at instanceof Date);
      await assert.rejects(
        core.db.insertInto('core_users').values({ email: 'owner@example.com', password_hash: 'y' }).execute(),
        (error: { code?: string }) => error.code === '23505',
      );
      await assert.rejects(
        core.db.insertInto('core_users').values({ email: 'Upper@example.com', password_hash: 'y' }).execute(),
        (error: { code?: string }) => error.code === '23514',
      );
      const org = { name: 'Acme', slug: 'acme', owner_id: user.id };
      const first = await core.db
        .insertInto('organizations')
        .values(org)
        .returning('id')
        .executeTakeFirstOrThrow();
      await assert.rejects(core.db.insertInto('organizations').values(org).execute());
      await core.db
        .updateTable('organizations')
        .set({ status: 'deleted', deleted_at: new Date() })
        .where('id', '=', first.id)
        .execute();
      const second = await core.db
        .insertInto('organizations')
        .values(org)
        .returning('id')
        .executeTakeFirstOrThrow();
      assert.ok(second.id > first.id, 'a deleted slug can be reused, with a new id');
    } finally {
      await core.close();
    }
  });

  it('keeps data across restarts and rolls migrations down and up', async () => {
    const before = await openCoreDb(env.config);
    await migrateToLatest(before.db, 'core');
    await before.db
      .insertInto('core_users')
      .values({ email: 'kept@example.com', password_hash: 'x' })
      .execute();
    await before.close();

    const reopened = await openCoreDb(env.config);
    try {
      const kept = await reopened.db
        .selectFrom('core_users')
        .select('email')
        .where('email', '=', 'kept@example.com')
        .execute();
      assert.equal(kept.length, 1);
      const migrator = createMigrator(reopened.db, 'core');
      // Every core migration's down step, newest first.
      const down = await migrator.migrateTo(NO_MIGRATIONS);
      assert.equal(down.error, undefined);
      assert.ok((down.results ?? []).length >= 2, 'each migration rolled back');
      assert.ok(!(await tables(reopened)).includes('core_users'));
      assert.ok(!(await tables(reopened)).includes('account_mail_requests'));
      await migrateToLatest(reopened.db, 'core');
      assert.ok((await tables(reopened)).includes('core_users'));
    } finally {
      await reopened.close();
    }
  });
});
