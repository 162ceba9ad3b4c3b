import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrationPrefix } from '../../src/cli/commands/migration-new.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { startProcess } from '../helpers/server-process.js';
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

async function cli(...args: string[]) {
  const run = startProcess('src/cli/index.ts', env.env, args);
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
    assert.match(help.output, /tenants suspend <id\|slug>/);
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

describe('migration:new naming', () => {
  it('names files by UTC minute, after every existing one', () => {
    const now = new Date('2026-11-29T10:07:42Z');
    assert.equal(migrationPrefix(now, []), '2026_11_29_1007');
    assert.equal(migrationPrefix(now, ['2026_11_29_1007_a.ts']), '2026_11_29_1008');
    assert.equal(migrationPrefix(now, ['2026_11_30_0001_initial.ts']), '2026_11_30_0002');
  });
});
