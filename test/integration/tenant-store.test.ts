import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import { NO_MIGRATIONS, sql } from 'kysely';
import pg from 'pg';
import type { Config } from '../../src/config.js';
import { createMigrator } from '../../src/db/migrator.js';
import { latestTenantMigration } from '../../src/tenancy/fleet/tenant-migrations.js';
import { createTenantStore } from '../../src/tenancy/stores/create-tenant-store.js';
import {
  MissingPrivilegeError,
  TenantDatabaseMissingError,
  TenantNamingError,
  type TenantStore,
} from '../../src/tenancy/stores/tenant-store.js';
import { createTenancyFixture, silentLogger, type TenancyFixture } from '../helpers/core-fixtures.js';
import { adminQuery, NEEDS_POSTGRES, TEST_ENGINE } from '../helpers/test-env.js';

let fx: TenancyFixture;
// Engine-specific tests run in every test run, on a fixture of their engine (the run's own when it matches).
let pgFx: TenancyFixture;
let liteFx: TenancyFixture;
let latest: string;
before(async () => {
  fx = await createTenancyFixture();
  await fx.store.prepare();
  // The PostgreSQL fixture in the embedded run only when a server is named (TEST_POSTGRES_URL).
  if (!NEEDS_POSTGRES)
    pgFx = TEST_ENGINE === 'postgres' ? fx : await createTenancyFixture({}, { engine: 'postgres' });
  liteFx = TEST_ENGINE === 'pglite' ? fx : await createTenancyFixture({}, { engine: 'pglite' });
  await Promise.all([pgFx?.store.prepare(), liteFx.store.prepare()]);
  latest = await latestTenantMigration();
});
after(async () => {
  for (const extra of new Set([pgFx, liteFx])) if (extra && extra !== fx) await extra.close();
  await fx.close();
});

/** The core database's name on PostgreSQL (it prefixes tenant database names). */
function coreName(): string {
  return new URL(pgFx.config.databaseUrl as string).pathname.slice(1);
}

function templateName(): string {
  return `${coreName()}_tenant_template`;
}

/** Whether the template accepts connections, and the migration its COMMENT records. */
async function templateState(): Promise<{ datallowconn: boolean; comment: string | null } | undefined> {
  const { rows } = await adminQuery(
    `select datallowconn, shobj_description(oid, 'pg_database') as comment from pg_database where datname = $1`,
    [templateName()],
  );
  return rows[0] as { datallowconn: boolean; comment: string | null } | undefined;
}

/** A store on another configuration, closed after `fn`. */
async function withStore<T>(config: Config, fn: (store: TenantStore) => Promise<T>): Promise<T> {
  const store = createTenantStore(config, silentLogger());
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function tables(store: TenantStore, name: string): Promise<string[]> {
  const handle = await store.open(name);
  try {
    const { rows } = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(
      handle.db,
    );
    return rows.map((row) => row.table_name);
  } finally {
    await handle.close();
  }
}

describe(`tenant store (${TEST_ENGINE})`, () => {
  it('names tenant databases from the organization id only', () => {
    const expected = TEST_ENGINE === 'postgres' ? `${coreName()}_tenant_42` : '42';
    assert.equal(fx.store.databaseName(42), expected);
    for (const bad of [0, -1, 1.5, 2 ** 31, Number.NaN]) {
      assert.throws(() => fx.store.databaseName(bad), TenantNamingError, String(bad));
    }
  });

  it('refuses names that are not tenant database names', async () => {
    const others = ['x', '42; drop database postgres', '../core', '', '042'];
    if (TEST_ENGINE === 'postgres') others.push(templateName(), coreName(), 'postgres', 'other_tenant_1');
    for (const name of others) {
      await assert.rejects(fx.store.create(name), TenantNamingError, `create ${name}`);
      await assert.rejects(fx.store.drop(name), TenantNamingError, `drop ${name}`);
      await assert.rejects(fx.store.open(name), TenantNamingError, `open ${name}`);
      await assert.rejects(fx.store.exists(name), TenantNamingError, `exists ${name}`);
    }
  });

  it('rejects a core database name that cannot prefix tenant names', async () => {
    const base = 'postgres://postgres@127.0.0.1:5432/';
    const config = (database: string): Config => ({
      ...fx.config,
      databaseUrl: base + database,
      tenantDatabaseUrl: null,
    });
    // 45 characters is the longest prefix that leaves room for `_tenant_2147483647`.
    await withStore(config('a'.repeat(45)), async (store) => {
      assert.equal(store.databaseName(2147483647).length, 63);
    });
    assert.throws(() => createTenantStore(config('a'.repeat(46)), silentLogger()), /at most 45/);
    assert.throws(() => createTenantStore(config('Tenantry'), silentLogger()), TenantNamingError);
    assert.throws(() => createTenantStore(config('tenant-ry'), silentLogger()), TenantNamingError);
  });

  it('creates a migrated database from the template; create and drop are idempotent', async () => {
    const name = fx.store.databaseName(101);
    assert.equal(await fx.store.exists(name), false);
    await fx.store.create(name);
    await fx.store.create(name);
    assert.equal(await fx.store.exists(name), true);
    assert.ok((await fx.store.list()).includes(name));
    assert.deepEqual(
      (await tables(fx.store, name)).filter((table) => table.startsWith('tenant_')),
      ['tenant_invitations', 'tenant_refresh_tokens', 'tenant_users'],
    );
    const handle = await fx.store.open(name);
    try {
      const migrations = await createMigrator(handle.db, 'tenant').getMigrations();
      assert.ok(migrations.length > 0);
      assert.ok(migrations.every((migration) => migration.executedAt instanceof Date));
      assert.equal(migrations[migrations.length - 1]?.name, latest);
      const users = await handle.db.selectFrom('tenant_users').selectAll().execute();
      assert.deepEqual(users, []);
    } finally {
      await handle.close();
    }
    await fx.store.drop(name);
    assert.equal(await fx.store.exists(name), false);
    assert.ok(!(await fx.store.list()).includes(name));
    await fx.store.drop(name);
  });

  it('creates concurrently: one name many times, and many names at once', async () => {
    const same = fx.store.databaseName(102);
    await Promise.all([fx.store.create(same), fx.store.create(same), fx.store.create(same)]);
    const many = [103, 104, 105].map((id) => fx.store.databaseName(id));
    await Promise.all(many.map((name) => fx.store.create(name)));
    const listed = await fx.store.list();
    for (const name of [same, ...many]) assert.ok(listed.includes(name), name);
    await Promise.all([same, ...many].map((name) => fx.store.drop(name)));
    const after = await fx.store.list();
    for (const name of [same, ...many]) assert.ok(!after.includes(name), name);
  });

  it('enforces the tenant schema, and its migration rolls down and up', async () => {
    const name = fx.store.databaseName(106);
    await fx.store.create(name);
    const handle = await fx.store.open(name);
    try {
      const { id } = await handle.db
        .insertInto('tenant_users')
        .values({ email: 'owner@example.com', role: 'owner', core_user_id: 7, password_hash: null })
        .returning('id')
        .executeTakeFirstOrThrow();
      const member = await handle.db
        .insertInto('tenant_users')
        .values({ email: 'member@example.com', password_hash: 'hash' })
        .returningAll()
        .executeTakeFirstOrThrow();
      assert.equal(member.role, 'member');
      assert.equal(member.is_active, true);
      assert.ok(member.created_at instanceof Date);
      const state = (error: unknown) => (error as { code?: string }).code;
      await assert.rejects(
        handle.db
          .insertInto('tenant_users')
          .values({ email: 'Upper@example.com', password_hash: null })
          .execute(),
        (error) => state(error) === '23514',
      );
      await assert.rejects(
        sql`insert into tenant_users (email, role) values ('boss@example.com', 'boss')`.execute(handle.db),
        (error) => state(error) === '23514',
      );
      await assert.rejects(
        handle.db
          .insertInto('tenant_users')
          .values({ email: 'owner@example.com', password_hash: null })
          .execute(),
        (error) => state(error) === '23505',
      );
      await assert.rejects(
        handle.db
          .insertInto('tenant_users')
          .values({ email: 'other@example.com', core_user_id: 7, password_hash: null })
          .execute(),
        (error) => state(error) === '23505',
      );
      await handle.db
        .insertInto('tenant_refresh_tokens')
        .values({
          user_id: id,
          family_id: '6f1c2c7e-7c1e-4d8a-9a43-1f0e2b3c4d5e',
          token_hash: 'h1',
          expires_at: new Date(Date.now() + 60_000),
        })
        .execute();
      await handle.db.deleteFrom('tenant_users').where('id', '=', id).execute();
      const tokens = await handle.db.selectFrom('tenant_refresh_tokens').selectAll().execute();
      assert.deepEqual(tokens, [], 'refresh tokens go with their user');

      const migrator = createMigrator(handle.db, 'tenant');
      // Every tenant migration, newest first, down to none.
      const down = await migrator.migrateTo(NO_MIGRATIONS);
      assert.equal(down.error, undefined);
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from information_schema.tables
        where table_name like 'tenant\\_%' or table_name = 'audit_events'`.execute(handle.db);
      assert.equal(rows[0]?.n, 0);
      const up = await migrator.migrateToLatest();
      assert.equal(up.error, undefined);
    } finally {
      await handle.close();
    }
    assert.ok((await tables(fx.store, name)).includes('tenant_users'));
    await fx.store.drop(name);
  });

  it('drop closes the handles the store opened on that database', async () => {
    const name = fx.store.databaseName(107);
    await fx.store.create(name);
    const handle = await fx.store.open(name);
    await sql`select 1`.execute(handle.db);
    await fx.store.drop(name);
    assert.equal(await fx.store.exists(name), false);
    await assert.rejects(sql`select 1`.execute(handle.db));
    await handle.close();
  });

  it('never opens (or creates) a database that does not exist', async () => {
    const name = fx.store.databaseName(108);
    if (TEST_ENGINE === 'pglite') {
      await assert.rejects(fx.store.open(name), TenantDatabaseMissingError);
    } else {
      const handle = await fx.store.open(name);
      await assert.rejects(
        sql`select 1`.execute(handle.db),
        (error) => (error as { code?: string }).code === '3D000',
      );
      await handle.close();
    }
    assert.equal(await fx.store.exists(name), false);
  });
});

describe('tenant store: PostgreSQL template', { skip: NEEDS_POSTGRES }, () => {
  it('keeps the template at the latest migration and closed to connections', async () => {
    const state = await templateState();
    assert.equal(state?.datallowconn, false);
    assert.match(String(state?.comment), new RegExp(`${latest}$`));
    assert.ok(!(await pgFx.store.list()).includes(templateName()), 'the template is not a tenant');
  });

  it('migrates the template again when it is behind', async () => {
    const template = pg.escapeIdentifier(templateName());
    // Roll the template back to "no migrations", recorded as behind, as an older release would have left it.
    await adminQuery(`alter database ${template} with allow_connections true`);
    const url = new URL(pgFx.config.databaseUrl as string);
    url.pathname = `/${templateName()}`;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(
        'drop table if exists audit_events; drop table tenant_invitations; drop table tenant_refresh_tokens; ' +
          'drop table tenant_users; ' +
          'delete from tenantry_tenant_migration',
      );
    } finally {
      await client.end();
    }
    await adminQuery(`comment on database ${template} is 'tenantry tenant template at 0000_00_00_0000_old'`);
    await adminQuery(`alter database ${template} with allow_connections false`);

    await withStore(pgFx.config, async (store) => {
      await store.prepare();
      const name = store.databaseName(109);
      await store.create(name);
      assert.ok((await tables(store, name)).includes('tenant_users'));
      await store.drop(name);
    });
    const state = await templateState();
    assert.equal(state?.datallowconn, false);
    assert.match(String(state?.comment), new RegExp(`${latest}$`));
  });

  it('retries a copy while another session holds the template (SQLSTATE 55006)', async () => {
    const template = pg.escapeIdentifier(templateName());
    const warnings: string[] = [];
    const log: FastifyBaseLogger = {
      ...silentLogger(),
      warn: (_: unknown, message?: string) => void warnings.push(message ?? ''),
    };
    await adminQuery(`alter database ${template} with allow_connections true`);
    const url = new URL(pgFx.config.databaseUrl as string);
    url.pathname = `/${templateName()}`;
    const intruder = new pg.Client({ connectionString: url.toString() });
    await intruder.connect();
    const store = createTenantStore(pgFx.config, log);
    try {
      await store.prepare(); // closes the template to new connections; the intruder stays connected
      const name = store.databaseName(113);
      const creating = store.create(name);
      // PostgreSQL itself waits up to 5 s for other sessions before failing with 55006: stay until the
      // store has met it once (however slow a loaded machine makes that), then leave.
      const deadline = Date.now() + 60_000;
      while (!warnings.some((message) => /in use/.test(message)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await intruder.end();
      await creating;
      assert.equal(await store.exists(name), true);
      assert.ok(
        warnings.some((message) => /in use/.test(message)),
        'the first attempt met 55006',
      );
      await store.drop(name);
    } finally {
      await intruder.end().catch(() => undefined);
      await store.close();
    }
  });

  it('reports a missing CREATEDB privilege clearly', async () => {
    const role = `tenantry_nocreatedb_${randomBytes(4).toString('hex')}`;
    await adminQuery(`create role ${role} login nocreatedb`);
    try {
      const url = new URL(pgFx.config.databaseUrl as string);
      url.username = role;
      await withStore({ ...pgFx.config, databaseUrl: url.toString() }, async (store) => {
        await assert.rejects(store.prepare(), (error: unknown) => {
          assert.ok(error instanceof MissingPrivilegeError);
          assert.equal(error.role, role);
          assert.match(error.message, /CREATEDB/);
          assert.match(error.message, new RegExp(`ALTER ROLE "${role}" CREATEDB`));
          return true;
        });
        await assert.rejects(store.create(store.databaseName(110)), MissingPrivilegeError);
      });
    } finally {
      await adminQuery(`drop role ${role}`);
    }
  });
});

describe('tenant store: PGlite template', () => {
  it('keeps the template database on disk and rebuilds it when the migrations change', async () => {
    const root = join(liteFx.config.dataDir, 'tenants');
    const current = join(root, `.template-${latest}`);
    assert.ok(existsSync(current));
    // As if older releases had left their templates (a tar dump, a directory), and no current one existed.
    writeFileSync(join(root, '.template-0000_00_00_0000_old.tar.gz'), 'stale');
    mkdirSync(join(root, '.template-0000_00_00_0001_old'));
    writeFileSync(join(root, '.template-0000_00_00_0001_old', 'PG_VERSION'), '17');
    rmSync(current, { recursive: true });
    await withStore(liteFx.config, async (store) => {
      await store.prepare();
      const name = store.databaseName(111);
      await store.create(name);
      assert.ok((await tables(store, name)).includes('tenant_users'));
      await store.drop(name);
    });
    const templates = readdirSync(root).filter((entry) => entry.startsWith('.template-'));
    assert.deepEqual(templates, [`.template-${latest}`]);
  });

  it('removes leftovers of an interrupted create or drop at prepare()', async () => {
    const root = join(liteFx.config.dataDir, 'tenants');
    const leftover = join(root, '.tmp-112-deadbeef');
    mkdirSync(leftover);
    writeFileSync(join(leftover, 'PG_VERSION'), '17');
    assert.ok(!(await liteFx.store.list()).includes('112'), 'leftovers are never listed as tenants');
    await withStore(liteFx.config, (store) => store.prepare());
    assert.equal(existsSync(leftover), false);
  });
});
