import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { AppError } from '../../src/errors.js';
import type { MoveStep, Organization } from '../../src/db/core-schema.js';
import { placementFromRow, type TenantPlacement } from '../../src/tenancy/placement/placement.js';
import { serverDirectory, UnknownServerError } from '../../src/tenancy/servers/server-directory.js';
import { movedAway } from '../../src/tenancy/connections/moved-away.js';
import {
  MOVE_STEPS,
  MoveRefusedError,
  SimulatedMoveCrash,
  TenantMover,
} from '../../src/tenancy/lifecycle/tenant-mover.js';
import { call, ownerWithOrganization } from '../helpers/flows.js';
import { member } from '../helpers/isolation-world.js';
import { startLoad } from '../helpers/load-loop.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/** Moves between placements on the engine under test, through the app's own services (as the CLI does). */
describe('tenant moves', () => {
  let t: TestApp;
  let orgId = 0;
  let slug = '';
  let ownerToken = '';
  let signups = 0;

  const row = async (): Promise<Organization> =>
    (await t.app.services.organizationRows.findById(orgId)) as Organization;
  const placement = async (): Promise<TenantPlacement> =>
    placementFromRow(await row(), t.app.services.store.server) as TenantPlacement;

  /** Every row of the tenant's tables and its sequence states, read through its live placement. */
  async function snapshot() {
    const db = t.app.services.storage.handle(await placement());
    const users = await sql`select * from tenant_users order by id`.execute(db);
    const tokens = await sql`select * from tenant_refresh_tokens order by id`.execute(db);
    return { users: users.rows, tokens: tokens.rows };
  }

  async function signUp(prefix: string) {
    signups++;
    return member(t.app, slug, `${prefix}-${signups}@example.com`);
  }

  /** Whether the tenant's copy at `p` exists (the storage itself, not the core's view). */
  const exists = (p: TenantPlacement) => t.app.services.storage.exists(p);

  before(async () => {
    t = await createTestApp();
    const made = await ownerWithOrganization(t.app, 'mover@example.com', 'Moving Co', 'moving-co');
    orgId = made.org.id;
    slug = made.org.slug;
    ownerToken = made.tenantTokens.access_token;
    await signUp('before');
  });
  after(() => t?.close());

  test('dedicated → shared → dedicated keeps every row and sequence, and the old copy is gone', async () => {
    const before = await snapshot();
    const dedicated = await placement();
    assert.equal(dedicated.kind, 'dedicated');
    const result = await t.app.services.mover.move(orgId, { kind: 'shared' });
    const shared = await placement();
    assert.equal(shared.kind, 'shared');
    assert.equal(result.to, shared.key);
    assert.ok(result.rows >= 2, `rows copied: ${result.rows}`);
    assert.deepEqual(await snapshot(), before);
    assert.equal(await exists(dedicated), false, 'the old database is dropped');
    assert.equal((await row()).move_step, null);
    // New rows get fresh ids (the sequence came along), and old tokens work.
    const added = await signUp('after-shared');
    assert.ok(added.id > Math.max(...before.users.map((u) => (u as { id: number }).id)));
    const me = await call(t.app, 'GET', '/api/users/me', { token: ownerToken, tenant: slug });
    assert.equal(me.statusCode, 200, me.body);

    const back = await snapshot();
    await t.app.services.mover.move(orgId, { kind: 'dedicated', server: 'default' });
    assert.equal((await placement()).kind, 'dedicated');
    assert.deepEqual(await snapshot(), back);
    assert.equal(await exists(shared), false, 'the old schema is dropped');
    await signUp('after-dedicated');

    // Each switch recorded organization.moved in the core, committed with it: no actor (an operator's command).
    const moved = await t.app.core.db
      .selectFrom('core_audit_events')
      .select(['actor_user_id', 'organization_id', 'detail'])
      .where('action', '=', 'organization.moved')
      .where('organization_id', '=', orgId)
      .orderBy('id')
      .execute();
    assert.deepEqual(
      moved.map((e) => [
        e.actor_user_id,
        e.organization_id,
        (typeof e.detail === 'string' ? JSON.parse(e.detail) : e.detail) as unknown,
      ]),
      [
        [null, orgId, { from: dedicated.key, to: shared.key }],
        [null, orgId, { from: shared.key, to: (await placement()).key }],
      ],
    );
  });

  test('a request holding the old copy after the switch is told to retry (503 + Retry-After), for either kind', async () => {
    // What a request that resolved the tenant before the move meets on its next query (a sign-up reads, hashes
    // the password for a while, then writes): the old copy is gone, its new copy answers the retry.
    for (let i = 0; i < 2; i++) {
      const old = await placement();
      const stale = t.app.services.tenants.handle(old);
      assert.equal(
        Number(
          (await sql<{ n: number }>`select count(*)::int as n from tenant_users`.execute(stale)).rows[0]?.n,
        ) > 0,
        true,
      );
      await t.app.services.mover.move(orgId, { kind: old.kind === 'dedicated' ? 'shared' : 'dedicated' });
      await assert.rejects(sql`select count(*) from tenant_users`.execute(stale), (error: unknown) => {
        assert.ok(error instanceof AppError, String(error));
        assert.equal(error.code, 'SERVICE_UNAVAILABLE', `${old.kind}: ${error.message}`);
        assert.ok(error.headers['retry-after'], 'a 503 carries Retry-After');
        return true;
      });
      const me = await call(t.app, 'GET', '/api/users/me', { token: ownerToken, tenant: slug });
      assert.equal(me.statusCode, 200, me.body);
    }
  });

  test('moving where it is already, or to an unknown server, is refused and changes nothing', async () => {
    const kind = (await placement()).kind;
    await assert.rejects(t.app.services.mover.move(orgId, { kind }), MoveRefusedError);
    await assert.rejects(t.app.services.mover.move(orgId, { server: 'default' }), MoveRefusedError);
    await assert.rejects(t.app.services.mover.move(orgId, { server: 'elsewhere' }), UnknownServerError);
    assert.equal((await row()).move_step, null);
  });

  test('under a concurrent write load no acknowledged write is lost; the switch answers 503 + Retry-After', async () => {
    let n = 0;
    const load = startLoad(
      {
        register: async () => {
          const email = `load-${n++}@example.com`;
          const res = await call(t.app, 'POST', '/api/auth/register', {
            tenant: slug,
            body: { email, password: 'member password 1' },
          });
          const code = res.statusCode >= 400 ? res.json<{ code?: string }>().code : undefined;
          // A client backs off when told to (not for the whole Retry-After: the test wants the window's edges).
          if (res.statusCode === 503) await new Promise((resolve) => setTimeout(resolve, 50));
          return {
            status: res.statusCode,
            ...(code ? { code } : {}),
            ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}),
            ...(res.statusCode === 201 ? { wrote: email } : {}),
          };
        },
      },
      { workers: 3, hangMs: 30_000 },
    );
    // Let some writes land before and after the move.
    while (load.samples.filter((s) => s.status === 201).length < 3)
      await new Promise((r) => setTimeout(r, 20));
    const kind = (await placement()).kind === 'dedicated' ? 'shared' : 'dedicated';
    await t.app.services.mover.move(orgId, { kind });
    const movedAt = load.samples.length;
    while (load.samples.length < movedAt + 3) await new Promise((r) => setTimeout(r, 20));
    const samples = await load.stop();
    const acknowledged = samples.filter((s) => s.status === 201).map((s) => s.wrote as string);
    const refused = samples.filter((s) => s.status !== 201);
    for (const sample of refused) {
      assert.equal(sample.status, 503, JSON.stringify(sample));
      assert.ok(sample.retryAfter, 'a 503 carries Retry-After');
    }
    const { users } = await snapshot();
    const emails = new Set(users.map((u) => (u as { email: string }).email));
    const lost = acknowledged.filter((email) => !emails.has(email));
    assert.deepEqual(lost, [], `${acknowledged.length} acknowledged writes, ${refused.length} refused`);
    assert.ok(
      samples.slice(movedAt).some((s) => s.status === 201),
      'writes succeed after the move',
    );
  });

  for (const step of MOVE_STEPS) {
    test(`a crash after "${step}" is settled by reconcile: exactly one copy, every row, the tenant answers`, async () => {
      const before = await snapshot();
      const from = await placement();
      const kind = from.kind === 'dedicated' ? 'shared' : 'dedicated';
      const crashing = new TenantMover({
        organizations: t.app.services.organizationRows,
        servers: serverDirectory(t.app.services.servers.registry, t.app.services.storage),
        log: t.app.log,
        invalidate: (id, s) => t.app.services.tenants.invalidate(id, s),
        beforeDrop: (id, p) => t.app.services.tenants.close(id, p, movedAway),
        crashAfter: step,
      });
      await assert.rejects(crashing.move(orgId, { kind }), (e) => e instanceof SimulatedMoveCrash);
      assert.equal((await row()).move_step, step satisfies MoveStep);
      if (step !== 'switched') {
        const frozen = await call(t.app, 'GET', '/api/users/me', { token: ownerToken, tenant: slug });
        assert.equal(frozen.statusCode, 503, frozen.body);
        assert.ok(frozen.headers['retry-after']);
      }
      const report = await t.app.services.provisioner.reconcile();
      assert.deepEqual(
        step === 'switched' ? report.movesFinished : report.movesRolledBack,
        [orgId],
        JSON.stringify(report),
      );
      const now = await placement();
      assert.equal(now.kind, step === 'switched' ? kind : from.kind);
      const other = now.key === from.key ? (await row(), null) : from;
      assert.equal((await row()).move_step, null);
      assert.equal(await exists(now), true);
      if (other) assert.equal(await exists(other), false, 'the old copy is gone');
      assert.deepEqual(await snapshot(), before);
      const me = await call(t.app, 'GET', '/api/users/me', { token: ownerToken, tenant: slug });
      assert.equal(me.statusCode, 200, me.body);
      await signUp(`after-crash-${step}`);
    });
  }

  test('a crashed move is carried forward by resume', async () => {
    const before = await snapshot();
    const from = await placement();
    const kind = from.kind === 'dedicated' ? 'shared' : 'dedicated';
    const crashing = new TenantMover({
      organizations: t.app.services.organizationRows,
      servers: serverDirectory(t.app.services.servers.registry, t.app.services.storage),
      log: t.app.log,
      invalidate: (id, s) => t.app.services.tenants.invalidate(id, s),
      beforeDrop: (id, p) => t.app.services.tenants.close(id, p, movedAway),
      crashAfter: 'sealed',
    });
    await assert.rejects(crashing.move(orgId, { kind }), SimulatedMoveCrash);
    await assert.rejects(t.app.services.mover.move(orgId, { kind }), MoveRefusedError);
    await t.app.services.mover.resume(orgId);
    assert.equal((await placement()).kind, kind);
    assert.equal(await exists(from), false);
    assert.deepEqual(await snapshot(), before);
  });
});
