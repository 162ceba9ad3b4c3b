import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { ServerAdmin } from '../../src/tenancy/servers/server-admin.js';
import { call, ownerWithOrganization } from '../helpers/flows.js';
import { startPrivateCluster, type PrivateCluster } from '../helpers/pg-cluster.js';
import { startLoad } from '../helpers/load-loop.js';
import { freePort, startProcess } from '../helpers/server-process.js';
import { createTestEnv, TEST_ENGINE, type TestEnv } from '../helpers/test-env.js';

/**
 * Tenant servers (issue 13): the registry, the placement policy and a server going down, against two PostgreSQL
 * clusters of the test's own next to the core's server (PostgreSQL run); the embedded engine's one server
 * (PGlite run). The clusters are shared by the whole file and destroyed at its end.
 */

/** In every URL the tests hand out; it must never come back in any output. */
const PASSWORD = 'Pw-never-printed-7Q';

function withPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = PASSWORD;
  return parsed.toString();
}

function json<T>(output: string): T {
  const start = Math.min(...['{', '['].map((c) => output.indexOf(c)).filter((i) => i >= 0));
  return JSON.parse(output.slice(start)) as T;
}

interface ServerReport {
  name: string;
  address: string;
  url: string | null;
  weight: number;
  state: string;
  tenants: number;
  databases: number;
  reachable: boolean | null;
  connections: { open: number; active: number } | null;
}

function setup() {
  let env: TestEnv;
  const cli = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const run = startProcess('bin/tenantry.mjs', { ...env.env, ...extraEnv }, args);
    const code = await run.exited;
    const output = run.output();
    assert.ok(!output.includes(PASSWORD), `the password was printed:\n${output}`);
    return { code, output };
  };
  return {
    cli,
    get env() {
      return env;
    },
    set env(value: TestEnv) {
      env = value;
    },
  };
}

if (TEST_ENGINE === 'postgres') {
  describe('tenant servers (PostgreSQL, two extra clusters)', () => {
    const fx = setup();
    let a: PrivateCluster;
    let b: PrivateCluster;
    let app: FastifyInstance;
    let ownerCount = 0;
    /** Every organization made here, with its token and the server name it should be on. */
    const orgs: { id: number; slug: string; token: string; server: string }[] = [];
    const addresses = new Map<string, string>();

    before(async () => {
      [fx.env, a, b] = await Promise.all([createTestEnv(), startPrivateCluster(), startPrivateCluster()]);
      // Started before the servers are added (it migrates the core): a running app learns of them from the core.
      app = await buildApp(fx.env.config, { logger: false });
      await app.ready();
    });
    after(async () => {
      await app?.close();
      await Promise.all([a?.destroy(), b?.destroy()]);
      await fx.env.cleanup();
    });

    async function newOrganization(): Promise<{ id: number; slug: string; token: string; server: string }> {
      ownerCount++;
      const made = await ownerWithOrganization(app, `servers-${ownerCount}@example.com`, `Org ${ownerCount}`);
      const row = await app.core.db
        .selectFrom('organizations')
        .select('placement')
        .where('id', '=', made.org.id)
        .executeTakeFirstOrThrow();
      const server = [...addresses].find(([, address]) => address === row.placement)?.[0] ?? '?';
      const org = { id: made.org.id, slug: made.org.slug, token: made.tenantTokens.access_token, server };
      orgs.push(org);
      return org;
    }

    const me = (org: { slug: string; token: string }) =>
      call(app, 'GET', '/api/users/me', { tenant: org.slug, token: org.token });

    it('adds servers by URL, checking them, and never prints the password', async () => {
      const added = await fx.cli(['servers', 'add', 'a', withPassword(a.url), '--json']);
      assert.equal(added.code, 0, added.output);
      const view = json<{ name: string; address: string; url: string }>(added.output);
      assert.equal(view.address, `postgres://127.0.0.1:${a.port}`);
      assert.match(view.url, /postgres:\*\*\*@127\.0\.0\.1/);
      const weighted = await fx.cli(['servers', 'add', 'b', withPassword(b.url), '--weight', '2']);
      assert.equal(weighted.code, 0, weighted.output);
      assert.match(weighted.output, /added tenant server b .*weight 2/);

      // Refusals: nobody listening, a database other than the maintenance one, the same server twice, a name taken.
      const nobody = withPassword(`postgres://postgres@127.0.0.1:${await freePort()}/postgres`);
      const unreachable = await fx.cli(['servers', 'add', 'c', nobody]);
      assert.equal(unreachable.code, 1, unreachable.output);
      assert.match(
        unreachable.output,
        /Cannot reach postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres/,
      );
      const twice = await fx.cli(['servers', 'add', 'c', withPassword(a.url)], { LOG_LEVEL: 'debug' });
      assert.equal(twice.code, 1, twice.output);
      assert.match(twice.output, /registered already, as "a"/);

      addresses.set('a', view.address);
      addresses.set('b', `postgres://127.0.0.1:${b.port}`);
      addresses.set(
        'default',
        `postgres://127.0.0.1:${new URL(fx.env.config.databaseUrl as string).port || '5432'}`,
      );
    });

    it('spreads new organizations by tenants per weight, ties by name, each on its own server', async () => {
      for (let i = 0; i < 8; i++) await newOrganization();
      // a, b (weight 2) and default start empty: a, b, default, b, a, b, default, b.
      assert.deepEqual(
        orgs.map((org) => org.server),
        ['a', 'b', 'default', 'b', 'a', 'b', 'default', 'b'],
      );
      // Each tenant's database is on the server its row names, and nowhere else.
      const prefix = new URL(fx.env.config.databaseUrl as string).pathname.slice(1);
      for (const [name, cluster] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const client = new pg.Client({ connectionString: cluster.url });
        await client.connect();
        try {
          const { rows } = await client.query<{ datname: string }>(
            "select datname from pg_database where datname like $1 || '\\_tenant\\_%' order by datname",
            [prefix],
          );
          const expected = orgs
            .filter((org) => org.server === name)
            .map((org) => `${prefix}_tenant_${org.id}`);
          // The template of that server is there too.
          assert.deepEqual(
            rows.map((row) => row.datname).sort(),
            [...expected, `${prefix}_tenant_template`].sort(),
          );
        } finally {
          await client.end();
        }
      }
      for (const org of orgs) assert.equal((await me(org)).statusCode, 200, org.slug);
    });

    it('a drained server gets no new tenant, and keeps answering for its own', async () => {
      const drained = await fx.cli(['servers', 'drain', 'b']);
      assert.equal(drained.code, 0, drained.output);
      const made = [await newOrganization(), await newOrganization(), await newOrganization()];
      assert.ok(
        made.every((org) => org.server !== 'b'),
        JSON.stringify(made),
      );
      for (const org of orgs.filter((o) => o.server === 'b')) assert.equal((await me(org)).statusCode, 200);
    });

    it('remove is refused while tenants live on a server', async () => {
      const refused = await fx.cli(['servers', 'remove', 'a']);
      assert.equal(refused.code, 1, refused.output);
      assert.match(refused.output, /still holds tenants/);
      const admin = new ServerAdmin(app.services.servers.registry, app.services.servers.rows, 'unused');
      await assert.rejects(admin.remove('default'), /cannot be removed/);
      await assert.rejects(admin.remove('nope'), /No tenant server named "nope"/);
      await assert.rejects(admin.add('a', withPassword(b.url)), /named "a" exists already/);
    });

    it('lists servers with tenants, databases and connections, without passwords', async () => {
      const listed = await fx.cli(['servers', 'list', '--json'], { LOG_LEVEL: 'debug' });
      assert.equal(listed.code, 0, listed.output);
      const report = json<ServerReport[]>(listed.output);
      const byName = new Map(report.map((server) => [server.name, server]));
      assert.deepEqual([...byName.keys()].sort(), ['a', 'b', 'default']);
      for (const [name, server] of byName) {
        assert.equal(server.tenants, orgs.filter((org) => org.server === name).length, name);
        assert.equal(server.databases, server.tenants, name);
        assert.equal(server.reachable, true);
        assert.ok(server.connections, name);
      }
      assert.equal(byName.get('b')?.state, 'draining');
      assert.equal(byName.get('b')?.weight, 2);
      // The app above holds warm connections to its tenants on server a.
      assert.ok((byName.get('a')?.connections?.open ?? 0) >= 1, JSON.stringify(byName.get('a')));
      const text = await fx.cli(['servers', 'list']);
      assert.match(text.output, /a\s+active\s+1\s+\d+\s+\d+\s+\d+ open/);
    });

    it('a server stopped mid-run makes only its own tenants answer 503 with Retry-After', async () => {
      const onA = orgs.filter((org) => org.server === 'a');
      const others = orgs.filter((org) => org.server !== 'a');
      assert.ok(onA.length > 0 && others.length > 0);
      await a.stop('fast');
      for (const org of onA) {
        const res = await me(org);
        assert.equal(res.statusCode, 503, `${org.slug}: ${res.body}`);
        assert.equal(res.json<{ code: string }>().code, 'SERVICE_UNAVAILABLE');
        assert.ok(Number(res.headers['retry-after']) > 0);
      }
      for (const org of others) assert.equal((await me(org)).statusCode, 200, org.slug);
      // A new organization is placed on a live server still (a is the emptiest, but it is down: the drained b
      // is skipped, so the policy names a or default; provisioning on a fails with a 503, never a 500).
      const admin = new ServerAdmin(app.services.servers.registry, app.services.servers.rows, 'unused');
      assert.equal((await admin.list()).find((s) => s.name === 'a')?.reachable, false);
      await a.start();
      for (const org of onA) assert.equal((await me(org)).statusCode, 200, org.slug);
    });
    it('fleet migrations cover the tenants of every server', async () => {
      const prefix = new URL(fx.env.config.databaseUrl as string).pathname.slice(1);
      const clusters: Record<string, string> = {
        a: a.url,
        b: b.url,
        default: fx.env.config.databaseUrl as string,
      };
      /** The tenant migrations each organization's database records, read on the server its row names. */
      const applied = async () => {
        const found = new Map<number, string[]>();
        for (const org of orgs) {
          const url = new URL(clusters[org.server] as string);
          url.pathname = `/${prefix}_tenant_${org.id}`;
          const client = new pg.Client({ connectionString: url.toString() });
          await client.connect();
          try {
            const { rows } = await client
              .query<{ name: string }>(
                "select name from tenantry_tenant_migration where to_regclass('tenantry_tenant_migration') is not null",
              )
              .catch(() => ({ rows: [] as { name: string }[] }));
            found.set(
              org.id,
              rows.map((row) => row.name),
            );
          } finally {
            await client.end();
          }
        }
        return found;
      };
      const down = await fx.cli(['migrate:down', '--scope', 'tenant', '--to', 'none', '--json']);
      assert.equal(down.code, 0, down.output);
      for (const [id, names] of await applied()) assert.deepEqual(names, [], `tenant ${id}`);
      const up = await fx.cli(['migrate', '--json']);
      assert.equal(up.code, 0, up.output);
      const report = json<{
        migrated: number[];
        failed: unknown[];
        templatesFailed: unknown[];
        latest: string;
      }>(up.output);
      assert.deepEqual(
        report.migrated,
        orgs.map((org) => org.id).sort((x, y) => x - y),
      );
      assert.deepEqual(report.failed, []);
      assert.deepEqual(report.templatesFailed, []);
      for (const [id, names] of await applied()) assert.equal(names.at(-1), report.latest, `tenant ${id}`);
      assert.deepEqual(new Set(orgs.map((org) => org.server)), new Set(['a', 'b', 'default']));
    });

    it('moves a tenant between servers and placements under a write load: every acknowledged row is there', async () => {
      // A fresh organization (the fleet test above rolled every tenant's tables away and back, empty).
      const org = await newOrganization();
      const origin = org.server;
      const via = origin === 'a' ? 'default' : 'a';
      const registered = async (): Promise<string[]> => {
        const emails: string[] = [];
        let cursor: string | null = null;
        do {
          const query: string = cursor ? `&cursor=${cursor}` : '';
          const res = await call(app, 'GET', `/api/users?limit=100${query}`, {
            tenant: org.slug,
            token: org.token,
          });
          assert.equal(res.statusCode, 200, res.body);
          const page = res.json<{ items: { email: string }[]; next_cursor: string | null }>();
          emails.push(...page.items.map((u) => u.email));
          cursor = page.next_cursor;
        } while (cursor);
        return emails;
      };
      let n = 0;
      const load = startLoad(
        {
          register: async () => {
            const email = `cross-${n++}@example.com`;
            const res = await call(app, 'POST', '/api/auth/register', {
              tenant: org.slug,
              body: { email, password: 'member password 1' },
            });
            // A client backs off a little when told to retry.
            if (res.statusCode === 503) await new Promise((resolve) => setTimeout(resolve, 50));
            return { status: res.statusCode, ...(res.statusCode === 201 ? { wrote: email } : {}) };
          },
        },
        { workers: 2, hangMs: 30_000 },
      );
      const mover = app.services.mover;
      // Its server (dedicated) → another one, as a shared tenant → b (draining: moves still go there), dedicated.
      await mover.move(org.id, { server: via, kind: 'shared' });
      const onA = await app.core.db
        .selectFrom('organizations')
        .select(['placement', 'placement_kind'])
        .where('id', '=', org.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual([onA.placement, onA.placement_kind], [addresses.get(via), 'shared']);
      await mover.move(org.id, { server: 'b', kind: 'dedicated' });
      const samples = await load.stop();
      const acknowledged = samples.flatMap((sample) => (sample.wrote ? [sample.wrote] : []));
      assert.ok(acknowledged.length >= 1, 'some writes were acknowledged');
      assert.ok(
        samples.every((sample) => [201, 503].includes(sample.status)),
        JSON.stringify(samples.filter((sample) => ![201, 503].includes(sample.status)).slice(0, 3)),
      );
      const present = new Set(await registered());
      assert.deepEqual(
        acknowledged.filter((email) => !present.has(email)),
        [],
        'no acknowledged write lost',
      );
      assert.equal((await me(org)).statusCode, 200);
      // The database is on b now, and the one on the default server is gone.
      const prefix = new URL(fx.env.config.databaseUrl as string).pathname.slice(1);
      const databases = async (url: string) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const { rows } = await client.query<{ datname: string }>(
            'select datname from pg_database where datname = $1',
            [`${prefix}_tenant_${org.id}`],
          );
          return rows.length;
        } finally {
          await client.end();
        }
      };
      assert.equal(await databases(b.url), 1, 'on b');
      const urls: Record<string, string> = { a: a.url, default: fx.env.config.databaseUrl as string };
      assert.equal(await databases(urls[origin] as string), 0, `gone from ${origin}`);
      org.server = 'b';
    });
  });
} else {
  describe('tenant servers (embedded engine)', () => {
    const fx = setup();
    before(async () => {
      fx.env = await createTestEnv();
    });
    after(() => fx.env.cleanup());

    it('a drained default server takes no new organization until it is active again', async () => {
      const app = await buildApp(fx.env.config, { logger: false });
      try {
        await app.ready();
        const admin = new ServerAdmin(app.services.servers.registry, app.services.servers.rows, 'tenantry');
        await admin.drain('default');
        await assert.rejects(ownerWithOrganization(app, 'drained@example.com', 'Drained'), /create org: 503/);
        const failed = await app.core.db
          .selectFrom('organizations')
          .select(['status', 'provisioning_error'])
          .executeTakeFirstOrThrow();
        assert.equal(failed.status, 'failed');
        assert.match(failed.provisioning_error ?? '', /all are draining/);
        await admin.activate('default');
        const made = await ownerWithOrganization(app, 'active-again@example.com', 'Active Again');
        assert.equal(made.org.slug, 'active-again');
      } finally {
        await app.close();
      }
    });

    it('has one server, pglite, registered as default; adding one is a clear error', async () => {
      const added = await fx.cli([
        'servers',
        'add',
        'a',
        `postgres://postgres:${PASSWORD}@127.0.0.1:5432/postgres`,
      ]);
      assert.equal(added.code, 2, added.output);
      assert.match(added.output, /embedded engine has one tenant server \(pglite\)/);
      const listed = await fx.cli(['servers', 'list', '--json']);
      assert.equal(listed.code, 0, listed.output);
      const [server, ...rest] = json<ServerReport[]>(listed.output);
      assert.deepEqual(rest, []);
      assert.equal(server?.name, 'default');
      assert.equal(server?.address, 'pglite');
      assert.equal(server?.url, null);
      assert.equal(server?.tenants, 1);
      assert.equal(server?.connections, null);
    });
  });
}
