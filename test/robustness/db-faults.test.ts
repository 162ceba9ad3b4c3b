import { dedicatedPlacement } from '../../src/tenancy/placement/placement.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { toErrorResponse } from '../../src/http/plugins/error-handler.js';
import { call, ownerWithOrganization } from '../helpers/flows.js';
import { SOAK, SOAK_TIMEOUT } from '../helpers/fuzz-random.js';
import { eventually, startLoad, type Op, type Sample } from '../helpers/load-loop.js';
import { postgresBinDir, startPrivateCluster, type PrivateCluster } from '../helpers/pg-cluster.js';
import { snapshotTenant } from '../helpers/tenant-snapshot.js';
import { adminQuery, createTestEnv, NEEDS_POSTGRES, type TestEnv } from '../helpers/test-env.js';

/**
 * The database goes away while requests are in flight, on PostgreSQL in both test runs: a private server the
 * test crashes and restarts, and the shared server killing the app's backends. Requests must fail fast with
 * 503 and Retry-After (never a 500, never a hang), the app must recover by itself when the database is back,
 * and every write that was answered 201 must still be there.
 */

const WORKERS = 8;
/**
 * Past every deadline of the app with room to spare: a request past it hung. On the private server the longest a
 * request can wait for a database that stopped answering is acquire (2 s) + connect (5 s), or a pool checkout
 * with its connect (5 s) + one query (2 s): 7 s.
 */
const HANG_MS = 10_000;
const PASSWORD = 'fault tolerant';
const OUTAGE_MS = SOAK ? 20_000 : 3_000;
const CYCLES = SOAK ? 5 : 1;

interface Tenant {
  id: number;
  slug: string;
  dbName: string;
  token: string;
}

function sample(res: LightMyRequestResponse, wrote?: string): Omit<Sample, 'ms' | 'at' | 'op'> {
  const code = res.statusCode >= 400 ? res.json<{ code?: string }>().code : undefined;
  const retryAfter = res.headers['retry-after'];
  return {
    status: res.statusCode,
    ...(code ? { code } : {}),
    ...(retryAfter ? { retryAfter: String(retryAfter) } : {}),
    ...(wrote ? { wrote } : {}),
  };
}

/** Registrations (writes), tenant and core reads, and the readiness probe, spread over the tenants. */
function loadOps(
  app: FastifyInstance,
  tenants: Tenant[],
  coreToken: string,
): Record<'register' | 'tenantRead' | 'coreRead' | 'ready', Op> {
  let n = 0;
  const run = randomBytes(3).toString('hex');
  return {
    async register() {
      const tenant = tenants[n % tenants.length] as Tenant;
      const email = `load-${run}-${++n}@example.com`;
      const res = await call(app, 'POST', '/api/auth/register', {
        tenant: tenant.slug,
        body: { email, password: PASSWORD },
      });
      return sample(res, res.statusCode === 201 ? `${tenant.dbName} ${email}` : undefined);
    },
    async tenantRead() {
      const tenant = tenants[n % tenants.length] as Tenant;
      return sample(await call(app, 'GET', '/api/users/me', { tenant: tenant.id, token: tenant.token }));
    },
    async coreRead() {
      return sample(await call(app, 'GET', '/api/organizations', { token: coreToken }));
    },
    async ready() {
      const res = await app.inject({ method: 'GET', url: '/health/ready' });
      return { status: res.statusCode, ...(res.headers['retry-after'] ? { retryAfter: 'yes' } : {}) };
    },
  };
}

const SUCCESS: Record<string, number> = { register: 201, tenantRead: 200, coreRead: 200, ready: 200 };

/** Errors the app answers with a 5xx other than 503, kept for the failure message. */
const serverErrors: string[] = [];
function recordServerErrors(app: FastifyInstance): void {
  app.addHook('onError', async (_request, _reply, error) => {
    const { status } = toErrorResponse(error);
    if (status >= 500 && status !== 503) serverErrors.push(`${status} ${error.message}`.slice(0, 200));
  });
}

/** The app under test, its unexpected 5xx recorded. */
async function startApp(config: Config): Promise<FastifyInstance> {
  const app = await buildApp(config, { logger: false });
  recordServerErrors(app);
  await app.ready();
  return app;
}

/** Everything the clients saw must be a success or a 503 with Retry-After, answered in time. */
function badSamples(samples: Sample[]): string[] {
  return samples
    .filter(
      (s) =>
        !(s.status === SUCCESS[s.op]) &&
        !(
          s.status === 503 &&
          s.retryAfter !== undefined &&
          (s.op === 'ready' || s.code === 'SERVICE_UNAVAILABLE')
        ),
    )
    .map((s) => `${s.op} at ${s.at} ms: ${s.status} ${s.code ?? ''} (${s.ms} ms)`);
}

/** Each registration answered 201 is in its tenant database (read directly), and nothing appeared from nowhere. */
async function assertNoWriteLost(app: FastifyInstance, tenants: Tenant[], samples: Sample[]) {
  const written = samples.filter((s) => s.wrote).map((s) => s.wrote as string);
  let present = 0;
  for (const tenant of tenants) {
    const emails = new Set(
      (await snapshotTenant(app, dedicatedPlacement(app.services.store.server, tenant.dbName))).users.map(
        (u) => u.email,
      ),
    );
    for (const row of written.filter((w) => w.startsWith(`${tenant.dbName} `))) {
      const email = row.slice(tenant.dbName.length + 1);
      assert.ok(emails.has(email), `${email} was answered 201 but is not in ${tenant.dbName}`);
      present++;
    }
  }
  assert.equal(present, written.length);
  return written.length;
}

function summary(samples: Sample[]): string {
  const by = new Map<string, number>();
  for (const s of samples) by.set(`${s.op} ${s.status}`, (by.get(`${s.op} ${s.status}`) ?? 0) + 1);
  const slowest = Math.max(...samples.map((s) => s.ms));
  return `${samples.length} requests (${[...by].map(([k, v]) => `${k}×${v}`).join(', ')}), slowest ${slowest} ms`;
}

async function world(app: FastifyInstance, prefix = 'fault') {
  const a = await ownerWithOrganization(app, `${prefix}-a@example.com`, `${prefix} A`, `${prefix}-a`);
  const b = await ownerWithOrganization(app, `${prefix}-b@example.com`, `${prefix} B`, `${prefix}-b`);
  const tenants = [a, b].map(({ org, tenantTokens }) => ({
    id: org.id,
    slug: org.slug,
    dbName: org.tenant_db_name,
    token: tenantTokens.access_token,
  }));
  return { tenants, coreToken: a.owner.tokens.access_token };
}

/**
 * Runs load through one outage: `breakIt` takes the database away, `repairIt` brings it back. Returns the
 * samples, with when the outage started and ended and when the app answered again.
 */
async function throughOutage(
  app: FastifyInstance,
  tenants: Tenant[],
  coreToken: string,
  breakIt: () => Promise<void>,
  repairIt: () => Promise<void>,
  outageMs = OUTAGE_MS,
) {
  const load = startLoad(loadOps(app, tenants, coreToken), { workers: WORKERS, hangMs: HANG_MS });
  let repaired = false;
  try {
    await eventually(
      async () => load.samples.filter((s) => s.status === 201).length >= 10,
      30_000,
      'warm-up',
    );
    // The outage, as the clients see it: from when the break is done to when the repair begins.
    await breakIt();
    const down = load.now();
    await new Promise((resolve) => setTimeout(resolve, outageMs));
    const up = load.now();
    await repairIt();
    repaired = true;
    // Recovered: a write and both reads succeed again, with no restart and no help.
    const probe = loadOps(app, tenants, coreToken);
    await eventually(
      async () =>
        (await probe.register()).status === 201 &&
        (await probe.tenantRead()).status === 200 &&
        (await probe.coreRead()).status === 200,
      30_000,
      'recovery',
    );
    const recovered = load.now();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const samples = await load.stop();
    return { samples, down, up, recovered };
  } finally {
    // Whatever failed, the load and the fault stop here, or they would outlive the test.
    if (!repaired) await repairIt().catch(() => undefined);
    await load.stop();
  }
}

describe('PostgreSQL crashes and restarts under load (a private server)', () => {
  let cluster: PrivateCluster | undefined;
  let app: FastifyInstance | undefined;
  let dataDir: string | undefined;
  let skip: string | false = false;

  before(async () => {
    if (!postgresBinDir()) {
      skip = 'no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)';
      return;
    }
    cluster = await startPrivateCluster();
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('create database tenantry');
    await admin.end();
    dataDir = mkdtempSync(join(tmpdir(), 'tenantry-fault-'));
    const config = loadConfig({
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      DATABASE_URL: cluster.url.replace(/\/postgres$/, '/tenantry'),
      SECRET_KEY: randomBytes(32).toString('hex'),
      AUTH_RATE_LIMIT: 'off',
      RATE_LIMIT: 'off',
      LOG_LEVEL: 'silent',
      TENANT_ACQUIRE_TIMEOUT_MS: '2000',
      DATABASE_QUERY_TIMEOUT_MS: '2000',
    });
    app = await startApp(config);
  });
  after(async () => {
    await app?.close();
    await cluster?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * CYCLES outages of the private server under load, each: nothing hung, every answer a success or a 503 with
   * Retry-After, only 503s while it was out, only successes once recovered, and every 201 still in its database.
   */
  async function outageCycles(
    kind: string,
    breakIt: (server: PrivateCluster) => Promise<void>,
    repairIt: (server: PrivateCluster) => Promise<void>,
    outageMs = OUTAGE_MS,
  ) {
    // .ci/run installs and starts PostgreSQL: a missing server is a broken setup, not a reason to skip.
    assert.ok(!skip && app && cluster, skip || 'the private cluster did not start');
    const { tenants, coreToken } = await world(app, kind);
    const server = cluster;
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const { samples, down, up, recovered } = await throughOutage(
        app,
        tenants,
        coreToken,
        () => breakIt(server),
        () => repairIt(server),
        outageMs,
      );
      const hung = samples.filter((s) => s.status === 0).map((s) => `${s.op} at ${s.at} ms`);
      assert.deepEqual(hung, [], `requests still unanswered after ${HANG_MS} ms`);
      assert.deepEqual(badSamples(samples).slice(0, 20), [], serverErrors.slice(0, 10).join('\n'));
      const during = samples.filter((s) => s.at >= down && s.at + s.ms <= up);
      assert.ok(during.length > 0 && during.every((s) => s.status === 503), summary(during));
      assert.ok(
        samples.filter((s) => s.at > recovered).every((s) => s.status === SUCCESS[s.op]),
        'every request after recovery succeeds (no broken or cut connection reused)',
      );
      const writes = await assertNoWriteLost(app, tenants, samples);
      console.log(
        `db-faults (${kind} ${cycle}/${CYCLES}): ${summary(samples)}; out ${up - down} ms, answering again ` +
          `${recovered - up} ms after the repair began; ${writes} writes answered 201, all present`,
      );
    }
  }

  it(
    'answers 503 + Retry-After while down, never hangs, recovers alone, loses no committed write',
    { timeout: SOAK_TIMEOUT },
    () =>
      outageCycles(
        'crash',
        (server) => server.stop('immediate'),
        (server) => server.start(),
      ),
  );

  it(
    'does not hang while the server is frozen (answers 503 within its deadlines), and recovers when it thaws',
    { timeout: SOAK_TIMEOUT },
    // A frozen server keeps its sockets open and answers nothing (like a network partition): only the app's own
    // deadlines (connect, acquire, and DATABASE_QUERY_TIMEOUT_MS for queries already sent) end the requests. The
    // freeze outlasts HANG_MS, so a request with no deadline of its own would be caught hanging.
    () =>
      outageCycles(
        'freeze',
        (server) => server.freeze(),
        (server) => server.thaw(),
        Math.max(OUTAGE_MS, HANG_MS + 2_000),
      ),
  );
});

describe('the tenant server freezes while the core answers (TENANT_DATABASE_URL on a private server)', () => {
  let cluster: PrivateCluster | undefined;
  let env: TestEnv | undefined;
  let app: FastifyInstance | undefined;

  before(async () => {
    if (NEEDS_POSTGRES || !postgresBinDir()) return;
    cluster = await startPrivateCluster();
    env = await createTestEnv(
      {
        TENANT_DATABASE_URL: cluster.url,
        TENANT_ACQUIRE_TIMEOUT_MS: '2000',
        DATABASE_QUERY_TIMEOUT_MS: '2000',
        DATABASE_DDL_TIMEOUT_MS: '2000',
      },
      { engine: 'postgres' },
    );
    app = await startApp(env.config);
  });
  after(async () => {
    await app?.close();
    await env?.cleanup();
    await cluster?.destroy();
  });

  it(
    'creating and deleting organizations answer 503 within DATABASE_DDL_TIMEOUT_MS; reconcile settles both after the thaw',
    { timeout: SOAK_TIMEOUT, skip: NEEDS_POSTGRES },
    async () => {
      assert.ok(app && cluster && env, 'needs PostgreSQL server binaries and the shared server');
      const { tenants, coreToken } = await world(app, 'ddl');
      // The core token is the owner of the first organization: that one is deleted.
      const [doomed, keep] = tenants as [Tenant, Tenant];
      const timed = async (method: 'POST' | 'DELETE', url: string, body?: object) => {
        const started = Date.now();
        const res = await Promise.race([
          call(app as FastifyInstance, method, url, { token: coreToken, ...(body ? { body } : {}) }),
          new Promise<null>((resolve) => setTimeout(() => resolve(null), HANG_MS).unref()),
        ]);
        assert.ok(res, `${method} ${url} still unanswered after ${HANG_MS} ms`);
        return { res, ms: Date.now() - started };
      };

      await cluster.freeze();
      let created: number;
      try {
        // Provisioning copies the template on the frozen server: cut after 2 s, the organization is marked failed
        // (the rollback's DROP DATABASE is cut too, and left to reconcile).
        const create = await timed('POST', '/api/organizations', { name: 'Frozen Co', slug: 'ddl-frozen' });
        assert.equal(create.res.statusCode, 503, create.res.body);
        assert.equal(create.res.json<{ code: string }>().code, 'PROVISIONING_FAILED');
        assert.ok(create.res.headers['retry-after']);
        const row = await app.core.db
          .selectFrom('organizations')
          .select(['id', 'status'])
          .where('slug', '=', 'ddl-frozen')
          .executeTakeFirstOrThrow();
        assert.equal(row.status, 'failed');
        created = row.id;
        // Deleting drops the database on the frozen server: 503, and the organization is already gone for
        // requests (404), its deletion left to reconcile.
        const removal = await timed('DELETE', `/api/organizations/${doomed.id}`);
        assert.equal(removal.res.statusCode, 503, removal.res.body);
        assert.ok(removal.res.headers['retry-after']);
        const gone = await call(app, 'GET', '/api/users/me', { tenant: doomed.id, token: doomed.token });
        assert.equal(gone.statusCode, 404);
        // A tenant request to the frozen server: 503 within its deadlines too.
        const read = await call(app, 'GET', '/api/users/me', { tenant: keep.id, token: keep.token });
        assert.equal(read.statusCode, 503);
        console.log(
          `db-faults (tenant server frozen): create answered ${create.res.statusCode} in ${create.ms} ms, ` +
            `delete ${removal.res.statusCode} in ${removal.ms} ms`,
        );
      } finally {
        await cluster.thaw();
      }

      const report = await app.services.provisioner.reconcile();
      assert.deepEqual(report.deleted, [doomed.id]);
      const statuses = await app.core.db
        .selectFrom('organizations')
        .select(['id', 'status', 'tenant_db_name'])
        .where('id', 'in', [keep.id, doomed.id, created])
        .orderBy('id')
        .execute();
      assert.deepEqual(
        statuses.map((o) => [o.id, o.status]),
        [
          [doomed.id, 'deleted'],
          [keep.id, 'active'],
          [created, 'failed'],
        ],
      );
      // No database is left but the live tenant's: the failed one's copy (if the cut CREATE finished on the
      // server after all) and the deleted one's were dropped.
      assert.deepEqual(await app.services.store.list(), [keep.dbName]);
      await eventually(
        async () =>
          (await call(app as FastifyInstance, 'GET', '/api/users/me', { tenant: keep.id, token: keep.token }))
            .statusCode === 200,
        10_000,
        'tenant reads after the thaw',
      );
      const again = await call(app, 'POST', '/api/organizations', {
        token: coreToken,
        body: { name: 'After The Thaw' },
      });
      assert.equal(again.statusCode, 201, again.body);
      assert.deepEqual(serverErrors, []);
    },
  );
});

describe('the app’s backends are killed under load (pg_terminate_backend, shared server)', () => {
  let env: TestEnv | undefined;
  let app: FastifyInstance | undefined;
  let skip: string | false = false;

  before(async () => {
    if (NEEDS_POSTGRES) {
      skip = NEEDS_POSTGRES;
      return;
    }
    env = await createTestEnv({ TENANT_ACQUIRE_TIMEOUT_MS: '3000' }, { engine: 'postgres' });
    app = await startApp(env.config);
  });
  after(async () => {
    await app?.close();
    await env?.cleanup();
  });

  it(
    'answers 503 + Retry-After for what was cut off, never hangs, recovers, loses no committed write',
    {
      timeout: SOAK_TIMEOUT,
      skip: NEEDS_POSTGRES,
    },
    async () => {
      assert.ok(!skip && app && env, skip || 'the app did not start');
      const { tenants, coreToken } = await world(app);
      const databases = [
        new URL(env.config.databaseUrl as string).pathname.slice(1),
        ...tenants.map((x) => x.dbName),
      ];
      for (let cycle = 1; cycle <= CYCLES; cycle++) {
        let killed = 0;
        let killing: Promise<void> | undefined;
        let stop = false;
        const { samples, recovered } = await throughOutage(
          app,
          tenants,
          coreToken,
          async () => {
            // Every 50 ms, every backend of the app's core and tenant databases, for the whole outage.
            killing = (async () => {
              while (!stop) {
                const { rows } = await adminQuery(
                  `select pg_terminate_backend(pid) as killed from pg_stat_activity
                  where datname = any($1) and pid <> pg_backend_pid()`,
                  [databases],
                );
                killed += rows.filter((row: { killed: boolean }) => row.killed).length;
                await new Promise((resolve) => setTimeout(resolve, 50));
              }
            })();
          },
          async () => {
            stop = true;
            await killing;
          },
        );
        assert.ok(killed > 0, 'backends were terminated');
        assert.deepEqual(badSamples(samples).slice(0, 20), [], serverErrors.slice(0, 10).join('\n'));
        assert.ok(
          samples.filter((s) => s.at > recovered).every((s) => s.status === SUCCESS[s.op]),
          'every request after recovery succeeds',
        );
        const writes = await assertNoWriteLost(app, tenants, samples);
        console.log(
          `db-faults (terminate ${cycle}/${CYCLES}): ${summary(samples)}; ${killed} backends killed; ` +
            `${writes} writes answered 201, all present`,
        );
      }
    },
  );
});
