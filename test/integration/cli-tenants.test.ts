import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { migrationFolder, migrationPrefix } from '../../src/cli/commands/migration-new.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { REPO_ROOT, startProcess } from '../helpers/server-process.js';
import { buildApp } from '../../src/app.js';
import { call, ownerWithOrganization } from '../helpers/flows.js';

let env: TestEnv;
before(async () => {
  env = await createTestEnv();
  // One organization made through the API, by an owner the CLI can also name.
  const app = await buildApp(env.config, { logger: false });
  try {
    await app.ready();
    await ownerWithOrganization(app, 'cli-owner@example.com', 'Made By Api', 'made-by-api');
  } finally {
    await app.close();
  }
});
after(() => env.cleanup());

/** Runs the CLI the way `npx tenantry` and `npm run cli` do: through the bin. */
async function cli(...args: string[]) {
  const run = startProcess('bin/tenantry.mjs', env.env, args);
  const code = await run.exited;
  return { code, output: run.output() };
}

function json<T>(output: string): T {
  const start = Math.min(...['{', '['].map((c) => output.indexOf(c)).filter((i) => i >= 0));
  return JSON.parse(output.slice(start)) as T;
}

interface Org {
  id: number;
  slug: string;
  status: string;
  schema_version: string | null;
}

describe('tenantry tenants', () => {
  it('creates, lists, shows, suspends, resumes and deletes organizations', async () => {
    const created = await cli(
      'tenants',
      'create',
      '--name',
      'Made By Cli',
      '--owner',
      'CLI-owner@example.com',
      '--json',
    );
    assert.equal(created.code, 0, created.output);
    const org = json<Org>(created.output);
    assert.equal(org.slug, 'made-by-cli');
    assert.equal(org.status, 'active');
    assert.ok(org.schema_version);

    const list = await cli('tenants', 'list', '--json');
    assert.equal(list.code, 0, list.output);
    assert.deepEqual(
      json<Org[]>(list.output)
        .map((o) => o.slug)
        .sort(),
      ['made-by-api', 'made-by-cli'],
    );

    const suspended = await cli('tenants', 'suspend', 'made-by-cli', '--json');
    assert.equal(suspended.code, 0, suspended.output);
    assert.equal(json<Org>(suspended.output).status, 'suspended');

    // A server started now refuses the suspended tenant.
    const app = await buildApp(env.config, { logger: false });
    try {
      const res = await call(app, 'POST', '/api/auth/login', {
        tenant: 'made-by-cli',
        body: { email: 'a@example.com', password: 'x' },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json<{ code: string }>().code, 'TENANT_SUSPENDED');
    } finally {
      await app.close();
    }

    assert.equal((await cli('tenants', 'resume', String(org.id), '--json')).code, 0);
    const shown = await cli('tenants', 'show', 'made-by-cli', '--json');
    assert.equal(json<Org>(shown.output).status, 'active');

    const deleted = await cli('tenants', 'delete', 'made-by-cli');
    assert.equal(deleted.code, 0, deleted.output);
    assert.equal((await cli('tenants', 'show', 'made-by-cli')).code, 4);

    // Each operator action is in the core audit log, with no actor (the CLI has no user), for the owner to read.
    const audit = await buildApp(env.config, { logger: false });
    try {
      const events = await audit.core.db
        .selectFrom('core_audit_events')
        .select(['action', 'actor_user_id', 'target_type', 'target_id', 'detail'])
        .where('organization_id', '=', org.id)
        .orderBy('id')
        .execute();
      assert.deepEqual(
        events.map((e) => [e.action, e.actor_user_id, e.target_type, e.target_id, e.detail.via]),
        ['created', 'suspended', 'resumed', 'deleted'].map((what) => [
          `organization.${what}`,
          null,
          'organization',
          org.id,
          'cli',
        ]),
      );
    } finally {
      await audit.close();
    }
  });

  it('creates a shared tenant with --placement shared, and deletes only its schema', async () => {
    const created = await cli(
      'tenants',
      'create',
      '--name',
      'Shared By Cli',
      '--owner',
      'cli-owner@example.com',
      '--placement',
      'shared',
      '--json',
    );
    assert.equal(created.code, 0, created.output);
    const org = json<
      Org & { placement: string; tenant_schema: string | null; provisioning_step: string | null }
    >(created.output);
    assert.equal(org.placement, 'shared');
    assert.equal(org.tenant_schema, `t_${org.id}`);
    assert.equal(org.provisioning_step, null, 'the step is shown only while provisioning');
    // Its users live in its schema: a server started now lets a member sign up there.
    const app = await buildApp(env.config, { logger: false });
    try {
      const res = await call(app, 'POST', '/api/auth/register', {
        tenant: org.slug,
        body: { email: 'member@example.com', password: 'member password 1' },
      });
      assert.equal(res.statusCode, 201, res.body);
    } finally {
      await app.close();
    }
    assert.equal((await cli('tenants', 'delete', org.slug)).code, 0);
    assert.equal((await cli('tenants', 'show', 'made-by-api')).code, 0, 'the other tenants stay');
    const bad = await cli(
      'tenants',
      'create',
      '--name',
      'x',
      '--owner',
      'cli-owner@example.com',
      '--placement',
      'x',
    );
    assert.equal(bad.code, 2);
    assert.match(bad.output, /--placement must be dedicated or shared/);
  });

  it('answers bad usage with exit code 2 and unknown organizations with 4', async () => {
    assert.equal((await cli('tenants', 'frobnicate')).code, 2);
    assert.equal((await cli('tenants', 'suspend', 'Not A Slug')).code, 2);
    assert.equal((await cli('tenants', 'show', '999999')).code, 4);
    assert.equal((await cli('tenants', 'create', '--name', 'x', '--owner', 'nobody@example.com')).code, 4);
    const help = await cli('tenants', '--help');
    assert.equal(help.code, 0);
    assert.match(help.output, /suspend \[options\] <id\|slug>/);
    assert.match(help.output, /exec \[options\] <file> \[tenants\.\.\.\]/);
  });

  it("prints one command's help, suggests commands and options, and reports usage in CLI words", async () => {
    const help = await cli('tenants', 'create', '--help');
    assert.equal(help.code, 0);
    assert.match(help.output, /Usage: tenantry tenants create/);
    assert.match(help.output, /--placement <dedicated\|shared>/);
    assert.doesNotMatch(help.output, /suspend|seed|migrate/, 'only the create command');

    const typo = await cli('tenant', 'list');
    assert.equal(typo.code, 2);
    assert.match(typo.output, /unknown command 'tenant'[\s\S]*Did you mean tenants\?/);
    const subTypo = await cli('tenants', 'lst');
    assert.equal(subTypo.code, 2);
    assert.match(subTypo.output, /Did you mean list\?/);
    const flagTypo = await cli('tenants', 'list', '--jsn');
    assert.equal(flagTypo.code, 2);
    assert.match(flagTypo.output, /unknown option '--jsn'[\s\S]*Did you mean --json\?/);
    const badNumber = await cli('migrate', '--concurrency', '0');
    assert.equal(badNumber.code, 2);
    assert.match(badNumber.output, /--concurrency <n>' argument '0' is invalid/);
    assert.doesNotMatch(badNumber.output, /ERR_PARSE_ARGS|TypeError/);
    const missing = await cli('migrate:down');
    assert.equal(missing.code, 2);
    assert.match(missing.output, /required option '--scope <scope>' not specified/);
    const bare = await cli();
    assert.equal(bare.code, 2);
    assert.match(bare.output, /Commands:[\s\S]*tenants/);
  });

  it('provision:reconcile reports what it did as JSON', async () => {
    const run = await cli('provision:reconcile', '--grace-seconds', '0', '--json');
    assert.equal(run.code, 0, run.output);
    const report = json<{ completed: number[]; failed: number[]; orphansDropped: string[] }>(run.output);
    assert.deepEqual(report.failed, []);
  });

  it('migrate:status summarizes the fleet without opening tenants', async () => {
    const run = await cli('migrate:status', '--json');
    assert.equal(run.code, 0, run.output);
    const status = json<{ behind: number; groups: { status: string; count: number }[] }>(run.output);
    assert.equal(status.behind, 0);
    assert.equal(status.groups.find((g) => g.status === 'active')?.count, 1);
  });
});

describe('tenantry tenants exec and seed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-exec-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  // What each tenant holds: its user emails, by a script module (the summary carries what it returns).
  const countUsers = file(
    'count-users.mjs',
    `export default async function (db, tenant) {
      const rows = await db.selectFrom('tenant_users').select('email').orderBy('email').execute();
      return { slug: tenant.slug, emails: rows.map((r) => r.email) };
    }`,
  );
  interface Summary {
    total: number;
    ok: number;
    failed: number;
    tenants: { id: number; slug: string; ok: boolean; error?: string; result?: { emails: string[] } }[];
  }
  const emailsOf = (summary: Summary, slug: string) =>
    summary.tenants.find((t) => t.slug === slug)?.result?.emails.filter((e) => e.endsWith('@exec.test'));

  it('runs SQL files and scripts on named tenants or all of them, dedicated and shared, and reports each', async () => {
    const shared = await cli(
      'tenants',
      'create',
      '--name',
      'Exec Shared',
      '--owner',
      'cli-owner@example.com',
      '--placement',
      'shared',
      '--json',
    );
    assert.equal(shared.code, 0, shared.output);

    // A batch of statements, in a transaction per tenant.
    const insert = file(
      'insert.sql',
      `insert into tenant_users (email, updated_at) values ('one@exec.test', now());
       insert into tenant_users (email, updated_at) values ('two@exec.test', now());`,
    );
    const ran = await cli('tenants', 'exec', insert, '--all', '--json');
    assert.equal(ran.code, 0, ran.output);
    const summary = json<Summary>(ran.output);
    assert.equal(summary.total, 2);
    assert.equal(summary.ok, 2);
    assert.deepEqual(summary.tenants.map((t) => t.slug).sort(), ['exec-shared', 'made-by-api']);
    assert.match(ran.output, /2\/2 tenants/, 'progress on stderr');

    // A failing statement rolls back that tenant's whole batch; exit 1; every tenant still reported.
    const failing = file(
      'failing.sql',
      `insert into tenant_users (email, updated_at) values ('three@exec.test', now()); select 1 / 0;`,
    );
    const failed = await cli('tenants', 'exec', failing, 'made-by-api', 'exec-shared', '--json');
    assert.equal(failed.code, 1, failed.output);
    const failedSummary = json<Summary>(failed.output);
    assert.equal(failedSummary.failed, 2);
    assert.match(failedSummary.tenants[0]?.error ?? '', /division by zero/);

    const counted = await cli('tenants', 'exec', countUsers, '--all', '--status', 'active', '--json');
    assert.equal(counted.code, 0, counted.output);
    const after = json<Summary>(counted.output);
    for (const slug of ['made-by-api', 'exec-shared'])
      assert.deepEqual(emailsOf(after, slug), ['one@exec.test', 'two@exec.test'], slug);

    // A script failing on one tenant: that one FAILED, the other ok, exit 1.
    const picky = file(
      'picky.mjs',
      `export default async function (db, tenant) { if (tenant.slug === 'exec-shared') throw new Error('not this one'); }`,
    );
    const mixed = await cli('tenants', 'exec', picky, '--all', '--concurrency', '2');
    assert.equal(mixed.code, 1, mixed.output);
    assert.match(mixed.output, /exec-shared\s+FAILED\s+\d+\s+not this one/);
    assert.match(mixed.output, /made-by-api\s+ok/);
    assert.match(mixed.output, /2 tenant\(s\): 1 ok, 1 failed/);
  });

  it('leaves statements unbounded unless --statement-timeout says otherwise', async () => {
    const slow = file('slow.sql', 'select pg_sleep(1.5);');
    // The server's request bound does not apply to an operator's run ...
    const run = startProcess('bin/tenantry.mjs', { ...env.env, DATABASE_QUERY_TIMEOUT_MS: '300' }, [
      'tenants',
      'exec',
      slow,
      'made-by-api',
      'exec-shared',
    ]);
    assert.equal(await run.exited, 0, run.output());
    // ... and --statement-timeout bounds every statement (on PostgreSQL; the embedded engine has no bounds).
    if (env.config.databaseUrl) {
      const bounded = await cli(
        'tenants',
        'exec',
        slow,
        'made-by-api',
        'exec-shared',
        '--statement-timeout',
        '300',
      );
      assert.equal(bounded.code, 1, bounded.output);
      assert.match(bounded.output, /2 tenant\(s\): 0 ok, 2 failed/);
    }
  });

  it('seeds idempotently, and refuses bad targets', async () => {
    const seed = file(
      'demo-users.ts',
      `import type { Kysely } from 'kysely';
      export default async function (db: Kysely<any>, tenant: { slug: string }): Promise<void> {
        await db
          .insertInto('tenant_users')
          .values({ email: \`demo-\${tenant.slug}@exec.test\`, updated_at: new Date() })
          .onConflict((oc) => oc.column('email').doNothing())
          .execute();
      }`,
    );
    for (let run = 0; run < 2; run++) {
      const seeded = await cli('tenants', 'seed', seed, 'made-by-api', '--json');
      assert.equal(seeded.code, 0, seeded.output);
      assert.equal(json<Summary>(seeded.output).ok, 1);
    }
    const counted = json<Summary>((await cli('tenants', 'exec', countUsers, 'made-by-api', '--json')).output);
    assert.deepEqual(emailsOf(counted, 'made-by-api'), [
      'demo-made-by-api@exec.test',
      'one@exec.test',
      'two@exec.test',
    ]);

    assert.equal((await cli('tenants', 'exec', countUsers)).code, 2, 'neither names nor --all');
    assert.equal((await cli('tenants', 'exec', countUsers, 'made-by-api', '--all')).code, 2);
    assert.equal((await cli('tenants', 'exec', join(dir, 'missing.sql'), '--all')).code, 2);
    const unknown = await cli('tenants', 'exec', countUsers, 'made-by-api', 'no-such-org');
    assert.equal(unknown.code, 4);
    assert.match(unknown.output, /No organization "no-such-org"/);
    const notAScript = await cli('tenants', 'seed', file('seed.sql', 'select 1'), '--all');
    assert.equal(notAScript.code, 2);
    assert.match(notAScript.output, /script module ends in/);
  });
});

describe('migration:new', () => {
  it('writes a migration through the bin into the folder the migrator reads', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'tenantry-migrations-'));
    try {
      const run = startProcess('bin/tenantry.mjs', { ...env.env, TENANTRY_TENANT_MIGRATIONS_DIR: folder }, [
        'migration:new',
        'add_nickname',
        '--scope',
        'tenant',
        '--json',
      ]);
      assert.equal(await run.exited, 0, run.output());
      const { file } = json<{ file: string }>(run.output());
      assert.match(file, /\/\d{4}_\d{2}_\d{2}_\d{4}_add_nickname\.ts$/);
      assert.deepEqual(readdirSync(folder), [basename(file)]);
      assert.match(readFileSync(file, 'utf8'), /export async function down/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("writes into the checkout's src/, never dist/", () => {
    const saved = process.env.TENANTRY_CORE_MIGRATIONS_DIR;
    delete process.env.TENANTRY_CORE_MIGRATIONS_DIR;
    try {
      assert.equal(migrationFolder('core'), join(REPO_ROOT, 'src', 'db', 'migrations', 'core'));
    } finally {
      if (saved !== undefined) process.env.TENANTRY_CORE_MIGRATIONS_DIR = saved;
    }
  });
});

describe('migration:new naming', () => {
  it('names files by UTC minute, after every existing one', () => {
    const now = new Date('2026-11-29T10:07:42Z');
    assert.equal(migrationPrefix(now, []), '2026_11_29_1007');
    assert.equal(migrationPrefix(now, ['2026_11_29_1007_a.ts']), '2026_11_29_1008');
    assert.equal(migrationPrefix(now, ['2026_11_30_0001_initial.ts']), '2026_11_30_0002');
  });
});
