import { dedicatedPlacement } from '../../src/tenancy/placement/placement.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { call } from '../helpers/flows.js';
import { FUZZ_SEED, replayHint, Rng, SOAK, SOAK_TIMEOUT } from '../helpers/fuzz-random.js';
import { provisionFleet } from '../helpers/tenant-fleet.js';
import { snapshotTenant } from '../helpers/tenant-snapshot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { TEST_ENGINE } from '../helpers/test-env.js';

/**
 * 200 registrations and their logins at once, spread over 20 tenants, with races on purpose: the same email
 * twice in one tenant (exactly one wins), the same email in every tenant (each tenant gets its own). On
 * PostgreSQL the 20 tenants share 12 connections (soak run on PGlite: 4 database instances), so connections are
 * handed from tenant to tenant all the time. Every answer must be right for its tenant, and each tenant database
 * must end up holding exactly the users whose registration answered 201 there.
 */

const FILE = 'test/robustness/concurrency.test.ts';
const TENANTS = 20;
const USERS_PER_TENANT = 10;
const ROUNDS = SOAK ? 3 : 1;
const PASSWORD = 'concurrent password';

let t: TestApp;
let fleet: Awaited<ReturnType<typeof provisionFleet>>;

before(async () => {
  t = await createTestApp({
    // PGlite: one open database instance per tenant. Below that, every hand-over between tenants opens an
    // instance (~0.5-1 s of CPU on the event loop): with a budget of 4 this test takes ~4 minutes, so only the
    // soak run uses 4. The waits are long on purpose: this test is about correctness under contention, not
    // about the 503 a client gets past the deadline (the fault tests cover that).
    TENANT_MAX_CONNECTIONS: TEST_ENGINE === 'pglite' ? (SOAK ? '4' : String(TENANTS)) : '12',
    TENANT_ACQUIRE_TIMEOUT_MS: '120000',
  });
  const started = Date.now();
  fleet = await provisionFleet(t.app, TENANTS, 'conc');
  console.log(`concurrency: ${TENANTS} tenants provisioned in ${Date.now() - started} ms`);
});
after(() => t?.close());

interface Attempt {
  tenant: (typeof fleet)[number];
  email: string;
  /** Name the tenant by id (else by slug) when registering, and when logging in: both reach one database. */
  registerById?: boolean;
  loginById?: boolean;
}

/** Registers, then at once logs in and asks who it is; returns what each step answered. */
async function signUp({ tenant, email, registerById, loginById }: Attempt) {
  const reg = await call(t.app, 'POST', '/api/auth/register', {
    tenant: registerById ? tenant.id : tenant.slug,
    body: { email, password: PASSWORD },
  });
  if (reg.statusCode !== 201) return { reg: reg.statusCode, body: reg.body };
  const user = reg.json<{ id: number; email: string }>();
  const login = await call(t.app, 'POST', '/api/auth/login', {
    tenant: loginById ? tenant.id : tenant.slug,
    body: { email, password: PASSWORD },
  });
  if (login.statusCode !== 200) return { reg: 201, user, login: login.statusCode, body: login.body };
  const token = login.json<{ access_token: string }>().access_token;
  const me = await call(t.app, 'GET', '/api/users/me', { tenant: tenant.id, token });
  return { reg: 201, user, login: 200, tid: decodeJwt(token).tid, me: me.statusCode, meBody: me.body };
}

describe(`concurrent sign-ups over ${TENANTS} tenants (${TEST_ENGINE}, FUZZ_SEED=${FUZZ_SEED})`, () => {
  it(
    'ends with exactly the users whose registration answered 201, in the right tenant, each able to log in',
    { timeout: SOAK_TIMEOUT },
    async () => {
      const rng = new Rng(FUZZ_SEED);
      const created = new Map<number, Map<string, number>>(fleet.map((tenant) => [tenant.id, new Map()]));
      const failures: string[] = [];
      let registrations = 0;
      let logins = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const attempts: Attempt[] = [];
        for (const tenant of fleet) {
          for (let i = 0; i < USERS_PER_TENANT; i++)
            attempts.push({ tenant, email: `r${round}-u${i}-${tenant.slug}@example.com` });
          // A race inside the tenant: one more sign-up with an email another attempt uses.
          attempts.push({ tenant, email: `r${round}-u0-${tenant.slug}@example.com` });
          // The same email in every tenant: different users in different databases.
          attempts.push({ tenant, email: `r${round}-everywhere@example.com` });
        }
        // Drawn before anything runs, so the seed replays the same choices whatever the timing.
        const order = rng
          .sample(attempts, attempts.length)
          .map((a) => ({ ...a, registerById: rng.chance(0.5), loginById: rng.chance(0.5) }));
        const started = Date.now();
        const results = await Promise.all(order.map((attempt) => signUp(attempt)));
        const won = new Map<string, number>();
        for (const [i, result] of results.entries()) {
          const { tenant, email } = order[i] as Attempt;
          const where = `${email} in ${tenant.slug}`;
          registrations++;
          if (result.reg === 409) continue; // counted below: exactly one of the racers must have won
          if (result.reg !== 201 || !result.user) {
            failures.push(`${where}: register ${result.reg} ${result.body}`);
            continue;
          }
          won.set(`${tenant.id} ${email}`, (won.get(`${tenant.id} ${email}`) ?? 0) + 1);
          created.get(tenant.id)?.set(email, result.user.id);
          if (result.user.email !== email) failures.push(`${where}: registered as ${result.user.email}`);
          logins++;
          if (result.login !== 200) failures.push(`${where}: login ${result.login} ${result.body}`);
          else if (result.tid !== tenant.id)
            failures.push(`${where}: token for tenant ${String(result.tid)}`);
          else if (result.me !== 200) failures.push(`${where}: /users/me ${result.me} ${result.meBody}`);
          else {
            const me = JSON.parse(result.meBody) as { id: number; email: string };
            if (me.email !== email || me.id !== result.user.id)
              failures.push(`${where}: /users/me answered ${result.meBody}`);
          }
        }
        // Every distinct (tenant, email) won exactly once: the racers lost with 409, nothing lost or doubled.
        const distinct = new Set(attempts.map((a) => `${a.tenant.id} ${a.email}`));
        for (const key of distinct)
          if (won.get(key) !== 1) failures.push(`${key}: won ${won.get(key) ?? 0} times`);
        console.log(
          `concurrency round ${round + 1}/${ROUNDS}: ${attempts.length} sign-ups over ${TENANTS} tenants in ` +
            `${Date.now() - started} ms`,
        );
      }
      assert.deepEqual(failures.slice(0, 20), [], replayHint(FILE));

      // The databases themselves: each holds its owner and exactly the users that answered 201 there.
      for (const tenant of fleet) {
        const { users } = await snapshotTenant(
          t.app,
          dedicatedPlacement(t.app.services.store.server, tenant.dbName),
        );
        const expected = created.get(tenant.id) as Map<string, number>;
        const members = users.filter((u) => u.role === 'member');
        assert.deepEqual(
          members.map((u) => [u.email, u.id]).sort(),
          [...expected].sort(),
          `${tenant.slug} (${replayHint(FILE)})`,
        );
        assert.equal(users.filter((u) => u.role === 'owner').length, 1, tenant.slug);
      }
      const stats = t.app.services.connections.stats();
      assert.equal(stats.inUse, 0);
      assert.equal(stats.waiters, 0);
      console.log(
        `concurrency: ${registrations} registrations, ${logins} logins over ${TENANTS} tenants, ` +
          `${stats.opened} tenant connections opened, ${stats.evictions} evictions`,
      );
    },
  );
});
