import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { Organization } from '../../src/db/core-schema.js';
import { TenantUsersRepository } from '../../src/modules/tenant-users/tenant-users.repository.js';
import { ImportRefusedError, TenantTransfer } from '../../src/tenancy/lifecycle/tenant-import.js';
import { placementFromRow, type TenantPlacement } from '../../src/tenancy/placement/placement.js';
import { call, ownerWithOrganization, verifiedCoreUser } from '../helpers/flows.js';
import { member } from '../helpers/isolation-world.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { NEEDS_POSTGRES } from '../helpers/test-env.js';

function transfer(app: FastifyInstance): TenantTransfer {
  const s = app.services;
  return new TenantTransfer({
    organizations: s.organizationRows,
    provisioner: s.provisioner,
    storage: s.storage,
    tenantUsers: new TenantUsersRepository(),
    log: app.log,
  });
}

async function placementOf(app: FastifyInstance, id: number): Promise<TenantPlacement> {
  const row = (await app.services.organizationRows.findById(id)) as Organization;
  return placementFromRow(row, app.services.store.server) as TenantPlacement;
}

/** Every row of the tenant, the owner links left out (they are remapped on import by design). */
async function rows(app: FastifyInstance, id: number) {
  const db = app.services.storage.handle(await placementOf(app, id));
  const users = await sql<Record<string, unknown>>`select * from tenant_users order by id`.execute(db);
  const tokens = await sql`select * from tenant_refresh_tokens order by id`.execute(db);
  const invitations = await sql`select * from tenant_invitations order by id`.execute(db);
  // The tenant's audit log travels with its data (logins, deletions: who did what stays with the tenant).
  const events = await sql`select * from audit_events order by id`.execute(db);
  return {
    users: users.rows.map(({ core_user_id: _link, ...rest }) => rest),
    tokens: tokens.rows,
    invitations: invitations.rows,
    events: events.rows,
  };
}

const OWNER = 'exporter@example.com';

/** Export on one engine, import on the other (both directions), through the same code the CLI runs. */
describe('tenant export and import across engines', { skip: NEEDS_POSTGRES }, () => {
  const apps: Record<'pglite' | 'postgres', TestApp | undefined> = { pglite: undefined, postgres: undefined };
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-export-'));

  before(async () => {
    apps.pglite = await createTestApp({}, { engine: 'pglite' });
    apps.postgres = await createTestApp({ TENANT_PLACEMENT: 'shared' }, { engine: 'postgres' });
  });
  after(async () => {
    await apps.pglite?.close();
    await apps.postgres?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [from, to] of [
    ['pglite', 'postgres'],
    ['postgres', 'pglite'],
  ] as const) {
    test(`${from} → ${to}: rows, ids and sequences reproduced; the owner linked; new rows do not collide`, async () => {
      const source = (apps[from] as TestApp).app;
      const target = (apps[to] as TestApp).app;
      const made = await ownerWithOrganization(source, `${from}-${OWNER}`, `From ${from}`, `from-${from}`);
      const alice = await member(source, made.org.slug, 'alice@example.com');
      await member(source, made.org.slug, 'bob@example.com');
      // A deleted user leaves a gap in the ids: the import must keep ids, not renumber them.
      const owner = await call(source, 'DELETE', `/api/users/${alice.id}`, {
        token: made.tenantTokens.access_token,
        tenant: made.org.slug,
      });
      assert.equal(owner.statusCode, 204, owner.body);
      await member(source, made.org.slug, 'carol@example.com');
      const exported = await rows(source, made.org.id);

      const file = join(dir, `${from}.tenant.jsonl`);
      const org = (await source.services.organizationRows.findById(made.org.id)) as Organization;
      const written = await transfer(source).exportTo(org, file);
      assert.ok(exported.events.length > 0, 'the logins and the deletion were audited');
      assert.equal(
        written,
        exported.users.length + exported.tokens.length + exported.invitations.length + exported.events.length,
      );

      const newOwner = await verifiedCoreUser(target, `${from}-${OWNER}`, { isOwner: true });
      const result = await transfer(target).importFile(file, {
        name: `Imported from ${from}`,
        owner: { id: newOwner.id, email: `${from}-${OWNER}` },
        placement: to === 'postgres' ? 'shared' : 'dedicated',
      });
      assert.equal(result.rows, written);
      assert.deepEqual(await rows(target, result.organization.id), exported);

      // The owner enters through the token exchange, as the owner-linked tenant user.
      const exchanged = await call(target, 'POST', `/api/organizations/${result.organization.id}/token`, {
        token: newOwner.tokens.access_token,
      });
      assert.equal(exchanged.statusCode, 200, exchanged.body);
      // Members log in with their exported passwords; a new member gets an id after every exported one.
      const login = await call(target, 'POST', '/api/auth/login', {
        tenant: result.organization.slug,
        body: { email: 'bob@example.com', password: 'member password 1' },
      });
      assert.equal(login.statusCode, 200, login.body);
      const dave = await member(target, result.organization.slug, 'dave@example.com');
      const maxId = Math.max(...exported.users.map((u) => u.id as number), alice.id);
      assert.ok(dave.id > maxId, `new id ${dave.id} after ${maxId}`);
    });
  }

  test('an export of a newer tenant schema is refused before anything is created', async () => {
    const app = (apps.pglite as TestApp).app;
    const file = join(dir, 'pglite.tenant.jsonl');
    const [header, ...rest] = readFileSync(file, 'utf8').split('\n');
    const newer = { ...(JSON.parse(header as string) as object), schemaVersion: '9999_12_31_0001_future' };
    const future = join(dir, 'future.tenant.jsonl');
    writeFileSync(future, [JSON.stringify(newer), ...rest].join('\n'));
    const before = await app.services.organizationRows.listLive();
    const someone = await verifiedCoreUser(app, 'future@example.com', { isOwner: true });
    await assert.rejects(
      transfer(app).importFile(future, {
        name: 'Future',
        owner: { id: someone.id, email: 'future@example.com' },
        placement: 'dedicated',
      }),
      (error) => error instanceof ImportRefusedError && /newer than this build knows/.test(error.message),
    );
    assert.equal((await app.services.organizationRows.listLive()).length, before.length);
  });
});
