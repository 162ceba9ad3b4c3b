import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import { AuditPruner } from '../../src/modules/audit/audit-pruner.js';
import { CoreAuditEventsRepository } from '../../src/modules/audit/core-audit-events.repository.js';
import { TenantAuditEventsRepository } from '../../src/modules/audit/tenant-audit-events.repository.js';
import type { TenantContext } from '../../src/tenancy/routing/tenant-context.js';
import {
  call,
  ownerWithOrganization,
  tokenFromOutbox,
  verifiedCoreUser,
  type Tokens,
} from '../helpers/flows.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

interface AuditEvent {
  id: number;
  at: string;
  action: string;
  actor: { plane: 'core' | 'tenant'; user_id: number } | null;
  target: { type: string; id: number } | null;
  request_id: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}
interface Page {
  items: AuditEvent[];
  next_cursor: string | null;
}
type Setup = Awaited<ReturnType<typeof ownerWithOrganization>>;

const DAY_MS = 86_400_000;
const MEMBER_PASSWORD = 'member password one';
const NEW_MEMBER_PASSWORD = 'member password two';
/** inject()'s client address, as request.ip sees it. */
const CLIENT_IP = '127.0.0.1';

let t: TestApp;
let acme: Setup;
let globex: Setup;
let acmeOwnerUserId: number;
/** Every secret the tests send or receive: none may appear in any stored event. */
const secrets = new Set<string>(['correct horse battery', MEMBER_PASSWORD, NEW_MEMBER_PASSWORD]);
let seq = 0;

function remember(tokens: Tokens): Tokens {
  secrets.add(tokens.access_token);
  secrets.add(tokens.refresh_token);
  return tokens;
}

/** A request with a request id of its own; returns the answer and that id. */
async function act(
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  options: { body?: unknown; token?: string; tenant?: string | number } = {},
) {
  const requestId = `audit-test-${++seq}`;
  const res = await call(t.app, method, url, { ...options, headers: { 'x-request-id': requestId } });
  return { res, requestId };
}

async function page(query: string, auth: { token: string; tenant?: string | number }): Promise<Page> {
  const res = await call(t.app, 'GET', `/api/audit-events${query}`, auth);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Page>();
}

/** Every event the caller may read (newest first), through the cursor. */
async function allEvents(
  auth: { token: string; tenant?: string | number },
  query = '',
): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let cursor: string | null = null;
  do {
    const sep: string = query ? '&' : '?';
    const next: Page = await page(`${query}${cursor ? `${sep}cursor=${cursor}` : ''}`, auth);
    out.push(...next.items);
    cursor = next.next_cursor;
    if (!query && cursor) query = '?limit=100';
  } while (cursor);
  return out;
}

const acmeAuth = () => ({ token: acme.tenantTokens.access_token, tenant: acme.org.slug });

/** The one event a request recorded in acme, read through the API as acme's owner. */
async function tenantEvent(requestId: string, action: string): Promise<AuditEvent> {
  const events = (await allEvents(acmeAuth(), `?action=${action}&limit=100`)).filter(
    (e) => e.request_id === requestId,
  );
  assert.equal(events.length, 1, `${action} for ${requestId}: ${JSON.stringify(events)}`);
  return events[0] as AuditEvent;
}

async function coreEvent(token: string, requestId: string, action: string): Promise<AuditEvent> {
  const events = (await allEvents({ token }, `?action=${action}&limit=100`)).filter(
    (e) => e.request_id === requestId,
  );
  assert.equal(events.length, 1, `${action} for ${requestId}: ${JSON.stringify(events)}`);
  return events[0] as AuditEvent;
}

async function tenantContext(orgId: number): Promise<TenantContext> {
  const row = await t.app.services.organizationRows.findResolvable({ kind: 'id', id: orgId });
  assert.ok(row);
  return t.app.services.tenants.contextForOrganization(row);
}

async function countTenantEvents(orgId: number): Promise<number> {
  const { db } = await tenantContext(orgId);
  const row = await db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function countCoreEvents(): Promise<number> {
  const row = await t.app.core.db
    .selectFrom('core_audit_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A member of acme (registered and logged in), with its tokens. */
async function member(email: string, password = MEMBER_PASSWORD): Promise<{ id: number; tokens: Tokens }> {
  const reg = await call(t.app, 'POST', '/api/auth/register', {
    tenant: acme.org.slug,
    body: { email, password },
  });
  assert.equal(reg.statusCode, 201, reg.body);
  const login = await call(t.app, 'POST', '/api/auth/login', {
    tenant: acme.org.slug,
    body: { email, password },
  });
  assert.equal(login.statusCode, 200, login.body);
  return { id: reg.json<{ id: number }>().id, tokens: remember(login.json<Tokens>()) };
}

before(async () => {
  t = await createTestApp();
  acme = await ownerWithOrganization(t.app, 'audit-acme@example.com', 'Acme Audit', 'acme-audit');
  globex = await ownerWithOrganization(t.app, 'audit-globex@example.com', 'Globex Audit', 'globex-audit');
  for (const s of [acme, globex]) {
    remember(s.tenantTokens);
    remember(s.owner.tokens);
  }
  acmeOwnerUserId = Number(decodeJwt(acme.tenantTokens.access_token).sub);
});
after(() => t?.close());

describe('tenant audit events (one per action, with actor, target, request id and ip)', () => {
  let memberId: number;
  let memberTokens: Tokens;

  before(async () => {
    ({ id: memberId, tokens: memberTokens } = await member('audit-member@example.com'));
  });

  it('owner.token_exchanged: the core owner as actor, the linked tenant user as target', async () => {
    const { res, requestId } = await act('POST', `/api/organizations/${acme.org.id}/token`, {
      token: acme.owner.tokens.access_token,
    });
    assert.equal(res.statusCode, 200, res.body);
    remember(res.json<Tokens>());
    const event = await tenantEvent(requestId, 'owner.token_exchanged');
    assert.deepEqual(event.actor, { plane: 'core', user_id: acme.owner.id });
    assert.deepEqual(event.target, { type: 'user', id: acmeOwnerUserId });
    assert.equal(event.ip, CLIENT_IP);
    assert.ok(!Number.isNaN(Date.parse(event.at)));
  });

  it('auth.login.succeeded', async () => {
    const { res, requestId } = await act('POST', '/api/auth/login', {
      tenant: acme.org.slug,
      body: { email: 'audit-member@example.com', password: MEMBER_PASSWORD },
    });
    assert.equal(res.statusCode, 200, res.body);
    remember(res.json<Tokens>());
    const event = await tenantEvent(requestId, 'auth.login.succeeded');
    assert.deepEqual(event.actor, { plane: 'tenant', user_id: memberId });
    assert.deepEqual(event.target, { type: 'user', id: memberId });
    assert.equal(event.ip, CLIENT_IP);
  });

  it('auth.login.failed with the reason code; an unknown email is not kept', async () => {
    const wrong = await act('POST', '/api/auth/login', {
      tenant: acme.org.slug,
      body: { email: 'audit-member@example.com', password: 'not the password' },
    });
    assert.equal(wrong.res.statusCode, 401);
    const event = await tenantEvent(wrong.requestId, 'auth.login.failed');
    assert.equal(event.actor, null);
    assert.deepEqual(event.target, { type: 'user', id: memberId });
    assert.deepEqual(event.detail, { reason: 'INVALID_CREDENTIALS' });
    assert.equal(event.ip, CLIENT_IP);

    const typo = 'my-secret-password@example.com';
    const unknown = await act('POST', '/api/auth/login', {
      tenant: acme.org.slug,
      body: { email: typo, password: 'whatever it is' },
    });
    assert.equal(unknown.res.statusCode, 401);
    const stranger = await tenantEvent(unknown.requestId, 'auth.login.failed');
    assert.equal(stranger.target, null);
    assert.deepEqual(stranger.detail, { reason: 'INVALID_CREDENTIALS' });
    assert.ok(!JSON.stringify(stranger).includes(typo));
  });

  it('auth.refresh.reuse_detected when a used refresh token comes back', async () => {
    const first = await act('POST', '/api/auth/refresh', {
      tenant: acme.org.slug,
      body: { refresh_token: memberTokens.refresh_token },
    });
    assert.equal(first.res.statusCode, 200, first.res.body);
    remember(first.res.json<Tokens>());
    const again = await act('POST', '/api/auth/refresh', {
      tenant: acme.org.slug,
      body: { refresh_token: memberTokens.refresh_token },
    });
    assert.equal(again.res.statusCode, 401);
    const event = await tenantEvent(again.requestId, 'auth.refresh.reuse_detected');
    assert.equal(event.actor, null);
    assert.deepEqual(event.target, { type: 'user', id: memberId });
    assert.equal(event.ip, CLIENT_IP);
    // A plain rotation records nothing of the kind.
    assert.deepEqual(
      (await allEvents(acmeAuth())).filter((e) => e.request_id === first.requestId),
      [],
    );
  });

  it('auth.logout once per session (a second logout of the same token records nothing)', async () => {
    const login = await call(t.app, 'POST', '/api/auth/login', {
      tenant: acme.org.slug,
      body: { email: 'audit-member@example.com', password: MEMBER_PASSWORD },
    });
    const tokens = remember(login.json<Tokens>());
    const out = await act('POST', '/api/auth/logout', {
      tenant: acme.org.slug,
      body: { refresh_token: tokens.refresh_token },
    });
    assert.equal(out.res.statusCode, 204);
    const event = await tenantEvent(out.requestId, 'auth.logout');
    assert.deepEqual(event.actor, { plane: 'tenant', user_id: memberId });
    assert.deepEqual(event.target, { type: 'user', id: memberId });
    const twice = await act('POST', '/api/auth/logout', {
      tenant: acme.org.slug,
      body: { refresh_token: tokens.refresh_token },
    });
    assert.equal(twice.res.statusCode, 204);
    assert.deepEqual(
      (await allEvents(acmeAuth())).filter((e) => e.request_id === twice.requestId),
      [],
    );
  });

  it('user.password.changed by the user', async () => {
    const login = await call(t.app, 'POST', '/api/auth/login', {
      tenant: acme.org.slug,
      body: { email: 'audit-member@example.com', password: MEMBER_PASSWORD },
    });
    const tokens = remember(login.json<Tokens>());
    const { res, requestId } = await act('PATCH', '/api/users/me', {
      tenant: acme.org.slug,
      token: tokens.access_token,
      body: { password: NEW_MEMBER_PASSWORD, current_password: MEMBER_PASSWORD },
    });
    assert.equal(res.statusCode, 200, res.body);
    const event = await tenantEvent(requestId, 'user.password.changed');
    assert.deepEqual(event.actor, { plane: 'tenant', user_id: memberId });
    assert.deepEqual(event.target, { type: 'user', id: memberId });
    assert.equal(event.ip, CLIENT_IP);
  });

  it('user.role.changed and user.status.changed by the owner, with from/to; an inactive login fails with USER_INACTIVE', async () => {
    const promote = await act('PATCH', `/api/users/${memberId}`, {
      ...acmeAuth(),
      body: { role: 'admin' },
    });
    assert.equal(promote.res.statusCode, 200, promote.res.body);
    const role = await tenantEvent(promote.requestId, 'user.role.changed');
    assert.deepEqual(role.actor, { plane: 'tenant', user_id: acmeOwnerUserId });
    assert.deepEqual(role.target, { type: 'user', id: memberId });
    assert.deepEqual(role.detail, { from: 'member', to: 'admin' });

    const off = await act('PATCH', `/api/users/${memberId}`, { ...acmeAuth(), body: { is_active: false } });
    assert.equal(off.res.statusCode, 200, off.res.body);
    const status = await tenantEvent(off.requestId, 'user.status.changed');
    assert.deepEqual(status.actor, { plane: 'tenant', user_id: acmeOwnerUserId });
    assert.deepEqual(status.detail, { is_active: false });

    const refused = await act('POST', '/api/auth/login', {
      tenant: acme.org.slug,
      body: { email: 'audit-member@example.com', password: NEW_MEMBER_PASSWORD },
    });
    assert.equal(refused.res.statusCode, 403);
    assert.deepEqual((await tenantEvent(refused.requestId, 'auth.login.failed')).detail, {
      reason: 'USER_INACTIVE',
    });

    // Setting what already is records nothing.
    const same = await act('PATCH', `/api/users/${memberId}`, {
      ...acmeAuth(),
      body: { role: 'admin', is_active: true },
    });
    assert.equal(same.res.statusCode, 200);
    const recorded = (await allEvents(acmeAuth())).filter((e) => e.request_id === same.requestId);
    assert.deepEqual(
      recorded.map((e) => [e.action, e.detail]),
      [['user.status.changed', { is_active: true }]],
    );
  });

  it('user.deleted, with the email and role of the user removed', async () => {
    const gone = await member('audit-gone@example.com');
    const { res, requestId } = await act('DELETE', `/api/users/${gone.id}`, acmeAuth());
    assert.equal(res.statusCode, 204, res.body);
    const event = await tenantEvent(requestId, 'user.deleted');
    assert.deepEqual(event.actor, { plane: 'tenant', user_id: acmeOwnerUserId });
    assert.deepEqual(event.target, { type: 'user', id: gone.id });
    assert.deepEqual(event.detail, { email: 'audit-gone@example.com', role: 'member' });
    assert.equal(event.ip, CLIENT_IP);
  });

  it('readable by owners and admins, 403 for members, invisible from another tenant', async () => {
    const adminLogin = await call(t.app, 'POST', '/api/auth/login', {
      tenant: acme.org.slug,
      body: { email: 'audit-member@example.com', password: NEW_MEMBER_PASSWORD },
    });
    assert.equal(adminLogin.statusCode, 200, adminLogin.body);
    const admin = remember(adminLogin.json<Tokens>());
    const asAdmin = await page('', { token: admin.access_token, tenant: acme.org.slug });
    assert.ok(asAdmin.items.length > 0);

    const plain = await member('audit-plain@example.com');
    const denied = await call(t.app, 'GET', '/api/audit-events', {
      token: plain.tokens.access_token,
      tenant: acme.org.slug,
    });
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json<{ code: string }>().code, 'FORBIDDEN');

    // Globex's owner token at acme: refused; at home: none of acme's events.
    const cross = await call(t.app, 'GET', '/api/audit-events', {
      token: globex.tenantTokens.access_token,
      tenant: acme.org.slug,
    });
    assert.equal(cross.statusCode, 401);
    const acmeIds = new Set((await allEvents(acmeAuth())).map((e) => e.request_id));
    const globexEvents = await allEvents({
      token: globex.tenantTokens.access_token,
      tenant: globex.org.slug,
    });
    assert.ok(globexEvents.length > 0);
    assert.deepEqual(
      globexEvents.filter((e) => acmeIds.has(e.request_id)),
      [],
    );
    assert.ok(globexEvents.every((e) => e.target?.id !== memberId || e.action === 'owner.token_exchanged'));
    // A core token in the tenant context is not a tenant credential.
    const core = await call(t.app, 'GET', '/api/audit-events', {
      token: acme.owner.tokens.access_token,
      tenant: acme.org.slug,
    });
    assert.equal(core.statusCode, 401);
  });
});

describe('core audit events', () => {
  const email = 'audit-account@example.com';
  const password = 'account password one';
  const newPassword = 'account password two';
  let accountId: number;
  let token: string;

  it('account.registered, account.verified, account.login.failed (EMAIL_NOT_VERIFIED, INVALID_CREDENTIALS), account.login.succeeded', async () => {
    secrets.add(password).add(newPassword);
    const reg = await act('POST', '/api/auth/register', { body: { email, password, is_owner: true } });
    assert.equal(reg.res.statusCode, 201, reg.res.body);
    accountId = reg.res.json<{ user: { id: number } }>().user.id;

    const early = await act('POST', '/api/auth/login', { body: { email, password } });
    assert.equal(early.res.statusCode, 403);

    const verifyToken = await tokenFromOutbox(t.app, email, '/api/auth/verify');
    secrets.add(verifyToken);
    const verified = await act('GET', `/api/auth/verify?token=${verifyToken}`);
    assert.equal(verified.res.statusCode, 200);

    const wrong = await act('POST', '/api/auth/login', { body: { email, password: 'not it at all' } });
    assert.equal(wrong.res.statusCode, 401);
    const login = await act('POST', '/api/auth/login', { body: { email, password } });
    assert.equal(login.res.statusCode, 200, login.res.body);
    token = remember(login.res.json<Tokens>()).access_token;

    const account = { type: 'account', id: accountId };
    const self = { plane: 'core', user_id: accountId };
    const registered = await coreEvent(token, reg.requestId, 'account.registered');
    assert.deepEqual(
      [registered.actor, registered.target, registered.detail],
      [self, account, { is_owner: true }],
    );
    assert.equal(registered.ip, CLIENT_IP);
    const notVerified = await coreEvent(token, early.requestId, 'account.login.failed');
    assert.deepEqual(
      [notVerified.actor, notVerified.target, notVerified.detail],
      [null, account, { reason: 'EMAIL_NOT_VERIFIED' }],
    );
    const verifiedEvent = await coreEvent(token, verified.requestId, 'account.verified');
    assert.deepEqual([verifiedEvent.actor, verifiedEvent.target], [self, account]);
    assert.deepEqual((await coreEvent(token, wrong.requestId, 'account.login.failed')).detail, {
      reason: 'INVALID_CREDENTIALS',
    });
    const succeeded = await coreEvent(token, login.requestId, 'account.login.succeeded');
    assert.deepEqual([succeeded.actor, succeeded.target, succeeded.ip], [self, account, CLIENT_IP]);
  });

  it('account.password.changed, by change and by reset', async () => {
    const change = await act('PATCH', '/api/users/me', {
      token,
      body: { password: newPassword, current_password: password },
    });
    assert.equal(change.res.statusCode, 200, change.res.body);
    const asked = await act('POST', '/api/auth/password-reset', { body: { email } });
    assert.equal(asked.res.statusCode, 202);
    const resetToken = await tokenFromOutbox(t.app, email, '/reset-password');
    secrets.add(resetToken);
    const reset = await act('POST', '/api/auth/password-reset/confirm', {
      body: { token: resetToken, password },
    });
    assert.equal(reset.res.statusCode, 204, reset.res.body);
    const login = await call(t.app, 'POST', '/api/auth/login', { body: { email, password } });
    token = remember(login.json<Tokens>()).access_token;

    const changed = await coreEvent(token, change.requestId, 'account.password.changed');
    assert.deepEqual(changed.actor, { plane: 'core', user_id: accountId });
    assert.deepEqual(changed.target, { type: 'account', id: accountId });
    assert.deepEqual(changed.detail, { via: 'change' });
    const wasReset = await coreEvent(token, reset.requestId, 'account.password.changed');
    assert.deepEqual(wasReset.detail, { via: 'reset' });
    assert.equal(wasReset.ip, CLIENT_IP);
  });

  it('organization.created, organization.updated and organization.deleted, for the owner only', async () => {
    const created = await act('POST', '/api/organizations', { token, body: { name: 'Audit Lifecycle' } });
    assert.equal(created.res.statusCode, 201, created.res.body);
    const org = created.res.json<{ id: number; slug: string }>();
    const renamed = await act('PATCH', `/api/organizations/${org.id}`, {
      token,
      body: { name: 'Audit Lifecycle Renamed', allow_signup: false },
    });
    assert.equal(renamed.res.statusCode, 200, renamed.res.body);
    const deleted = await act('DELETE', `/api/organizations/${org.id}`, { token });
    assert.equal(deleted.res.statusCode, 204, deleted.res.body);

    const self = { plane: 'core', user_id: accountId };
    const target = { type: 'organization', id: org.id };
    const c = await coreEvent(token, created.requestId, 'organization.created');
    assert.deepEqual([c.actor, c.target], [self, target]);
    assert.deepEqual(c.detail, { name: 'Audit Lifecycle', slug: org.slug, placement: 'dedicated' });
    const u = await coreEvent(token, renamed.requestId, 'organization.updated');
    assert.deepEqual([u.actor, u.target], [self, target]);
    assert.deepEqual(u.detail, {
      changes: { name: 'Audit Lifecycle Renamed', allow_signup: false },
      previous_name: 'Audit Lifecycle',
    });
    const d = await coreEvent(token, deleted.requestId, 'organization.deleted');
    assert.deepEqual([d.actor, d.target, d.detail, d.ip], [self, target, { slug: org.slug }, CLIENT_IP]);

    // Another core user sees none of it; the other owners see only their own organizations and account.
    const mine = await allEvents({ token });
    const theirs = await allEvents({ token: acme.owner.tokens.access_token });
    assert.ok(theirs.some((e) => e.action === 'organization.created' && e.target?.id === acme.org.id));
    assert.ok(theirs.every((e) => e.target?.id !== org.id || e.target.type !== 'organization'));
    assert.ok(theirs.every((e) => !(e.target?.type === 'organization' && e.target.id === globex.org.id)));
    const theirIds = new Set(theirs.map((e) => e.id));
    assert.ok(mine.every((e) => !theirIds.has(e.id)));
    const bystander = await verifiedCoreUser(t.app, 'audit-bystander@example.com');
    remember(bystander.tokens);
    const seen = await allEvents({ token: bystander.tokens.access_token });
    assert.ok(seen.every((e) => e.target?.type === 'account' && e.target.id === bystander.id));
    // A tenant token is not a core credential.
    const tenantToken = await call(t.app, 'GET', '/api/audit-events', {
      token: acme.tenantTokens.access_token,
    });
    assert.equal(tenantToken.statusCode, 401);
  });
});

describe('filters and cursor pagination', () => {
  it('pages newest first through the cursor, without gaps or repeats', async () => {
    const all = await allEvents(acmeAuth(), '?limit=100');
    assert.ok(all.length >= 10, String(all.length));
    const ids = all.map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
    const paged = await allEvents(acmeAuth(), '?limit=3');
    assert.deepEqual(
      paged.map((e) => e.id),
      ids,
    );
    const first = await page('?limit=3', acmeAuth());
    assert.equal(first.items.length, 3);
    assert.ok(first.next_cursor);
  });

  it('filters by action, actor and time', async () => {
    const all = await allEvents(acmeAuth(), '?limit=100');
    const logins = await allEvents(acmeAuth(), '?action=auth.login.failed');
    assert.deepEqual(
      logins.map((e) => e.id),
      all.filter((e) => e.action === 'auth.login.failed').map((e) => e.id),
    );
    assert.ok(logins.length >= 3);

    const byOwner = await allEvents(acmeAuth(), `?actor_id=${acmeOwnerUserId}`);
    assert.ok(byOwner.length > 0);
    assert.deepEqual(
      byOwner.map((e) => e.id),
      all.filter((e) => e.actor?.user_id === acmeOwnerUserId).map((e) => e.id),
    );

    // A window around one event holds it, and since/until are inclusive/exclusive.
    const pivot = all[Math.floor(all.length / 2)] as AuditEvent;
    const since = await allEvents(acmeAuth(), `?since=${encodeURIComponent(pivot.at)}`);
    assert.ok(since.some((e) => e.id === pivot.id));
    assert.ok(since.every((e) => Date.parse(e.at) >= Date.parse(pivot.at)));
    const until = await allEvents(acmeAuth(), `?until=${encodeURIComponent(pivot.at)}`);
    assert.ok(until.every((e) => Date.parse(e.at) < Date.parse(pivot.at)));
    assert.equal(since.length + until.length, all.length);
    const future = new Date(Date.now() + DAY_MS).toISOString();
    assert.deepEqual((await page(`?since=${encodeURIComponent(future)}`, acmeAuth())).items, []);
  });

  it('answers bad filters with 422', async () => {
    const bad = [
      '?limit=0',
      '?limit=101',
      '?limit=x',
      '?cursor=not-a-cursor',
      '?action=user.exploded',
      '?action=organization.created', // a core action, in a tenant
      '?actor_id=0',
      '?actor_id=abc',
      '?since=yesterday',
      '?until=2026-13-01T00:00:00Z',
      '?since=0000-01-01T00:00:00Z',
      '?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z',
    ];
    for (const query of bad) {
      const res = await call(t.app, 'GET', `/api/audit-events${query}`, acmeAuth());
      assert.equal(res.statusCode, 422, `${query}: ${res.body}`);
      assert.equal(res.json<{ code: string }>().code, 'VALIDATION_ERROR', query);
    }
    const core = await call(t.app, 'GET', '/api/audit-events?action=auth.logout', {
      token: acme.owner.tokens.access_token,
    });
    assert.equal(core.statusCode, 422, core.body);
  });
});

describe('requests that fail validation before acting', () => {
  it('write no event, in the tenant or the core', async () => {
    const tenantBefore = await countTenantEvents(acme.org.id);
    const coreBefore = await countCoreEvents();
    const tenant = acme.org.slug;
    const attempts: [string, string, { body?: unknown; token?: string; tenant?: string }][] = [
      ['POST', '/api/auth/login', { tenant, body: { email: 'audit-member@example.com' } }],
      ['POST', '/api/auth/login', { tenant, body: { password: 'x' } }],
      ['POST', '/api/auth/login', { body: { email: 'audit-account@example.com', password: '' } }],
      ['POST', '/api/auth/logout', { tenant, body: {} }],
      ['POST', '/api/auth/refresh', { tenant, body: { refresh_token: '' } }],
      [
        'PATCH',
        '/api/users/1',
        { tenant, token: acme.tenantTokens.access_token, body: { role: 'superuser' } },
      ],
      [
        'PATCH',
        '/api/users/me',
        { tenant, token: acme.tenantTokens.access_token, body: { password: 'short' } },
      ],
      ['DELETE', '/api/users/0', { tenant, token: acme.tenantTokens.access_token }],
      ['POST', '/api/auth/register', { body: { email: 'x', password: 'short' } }],
      ['POST', '/api/organizations', { token: acme.owner.tokens.access_token, body: { name: '' } }],
      [
        'PATCH',
        `/api/organizations/${acme.org.id}`,
        { token: acme.owner.tokens.access_token, body: { name: '   ' } },
      ],
    ];
    for (const [method, url, options] of attempts) {
      const res = await call(t.app, method, url, options);
      assert.equal(res.statusCode, 422, `${method} ${url}: ${res.body}`);
    }
    assert.equal(await countTenantEvents(acme.org.id), tenantBefore);
    assert.equal(await countCoreEvents(), coreBefore);
  });
});

describe('what events store', () => {
  it('never a secret: no password, token or hash used in these tests', async () => {
    const { db } = await tenantContext(acme.org.id);
    for (const user of await db.selectFrom('tenant_users').select('password_hash').execute())
      if (user.password_hash) secrets.add(user.password_hash);
    for (const user of await t.app.core.db.selectFrom('core_users').select('password_hash').execute())
      secrets.add(user.password_hash);
    for (const row of await t.app.core.db.selectFrom('refresh_tokens').select('token_hash').execute())
      secrets.add(row.token_hash);
    for (const row of await db.selectFrom('tenant_refresh_tokens').select('token_hash').execute())
      secrets.add(row.token_hash);
    const stored = [
      ...(await db.selectFrom('audit_events').selectAll().execute()),
      ...(await t.app.core.db.selectFrom('core_audit_events').selectAll().execute()),
    ];
    const actions = new Set(stored.map((e) => e.action));
    for (const action of [
      'auth.login.succeeded',
      'auth.login.failed',
      'auth.logout',
      'auth.refresh.reuse_detected',
      'user.password.changed',
      'user.role.changed',
      'user.status.changed',
      'user.deleted',
      'owner.token_exchanged',
      'organization.created',
      'organization.updated',
      'organization.deleted',
      'account.registered',
      'account.verified',
      'account.login.succeeded',
      'account.login.failed',
      'account.password.changed',
    ])
      assert.ok(actions.has(action), `an event ${action} was stored`);
    assert.ok(secrets.size > 20, String(secrets.size));
    for (const event of stored) {
      const text = JSON.stringify(event);
      for (const secret of secrets) assert.ok(!text.includes(secret), `${event.action} holds a secret`);
    }
  });

  it('drops detail keys that look like secrets, whatever a caller passes', async () => {
    const tenant = await tenantContext(acme.org.id);
    await t.app.services.auditRecorder.tenant(
      tenant,
      { actor: null, requestId: 'audit-test-secret-keys', ip: null },
      {
        action: 'user.password.reset',
        target: null,
        detail: { password: 'p', nested: { refresh_token: 't', kept: 1 }, password_hash: 'h', via: 'test' },
      },
    );
    const row = await tenant.db
      .selectFrom('audit_events')
      .select('detail')
      .where('request_id', '=', 'audit-test-secret-keys')
      .executeTakeFirstOrThrow();
    assert.deepEqual(row.detail, { nested: { kept: 1 }, via: 'test' });
  });
});

describe('recording never fails the request it describes', () => {
  it('a tenant without the audit table (not migrated yet) still logs in and changes roles; the failure is logged', async () => {
    const broken = await ownerWithOrganization(
      t.app,
      'audit-broken@example.com',
      'Broken Audit',
      'broken-audit',
    );
    const tenant = await tenantContext(broken.org.id);
    await sql`drop table audit_events`.execute(tenant.db);
    const logged: unknown[] = [];
    const log = t.app.log as unknown as { error: (...args: unknown[]) => void };
    const original = log.error;
    log.error = (...args: unknown[]) => void logged.push(args);
    try {
      const reg = await call(t.app, 'POST', '/api/auth/register', {
        tenant: broken.org.slug,
        body: { email: 'audit-survivor@example.com', password: MEMBER_PASSWORD },
      });
      assert.equal(reg.statusCode, 201, reg.body);
      const login = await call(t.app, 'POST', '/api/auth/login', {
        tenant: broken.org.slug,
        body: { email: 'audit-survivor@example.com', password: MEMBER_PASSWORD },
      });
      assert.equal(login.statusCode, 200, login.body);
      const failed = await call(t.app, 'POST', '/api/auth/login', {
        tenant: broken.org.slug,
        body: { email: 'audit-survivor@example.com', password: 'wrong password' },
      });
      assert.equal(failed.statusCode, 401, failed.body);
      // In a transaction: the change commits without its event.
      const promote = await call(t.app, 'PATCH', `/api/users/${reg.json<{ id: number }>().id}`, {
        tenant: broken.org.slug,
        token: broken.tenantTokens.access_token,
        body: { role: 'admin' },
      });
      assert.equal(promote.statusCode, 200, promote.body);
      const user = await tenant.db
        .selectFrom('tenant_users')
        .select('role')
        .where('email', '=', 'audit-survivor@example.com')
        .executeTakeFirstOrThrow();
      assert.equal(user.role, 'admin');
      // Each lost event is in the server's log instead.
      assert.ok(logged.length >= 3, `logged ${logged.length}`);
      assert.ok(
        logged.every((args) => (args as unknown[])[1] === 'audit event not recorded'),
        JSON.stringify(logged.map((args) => (args as unknown[])[1])),
      );
    } finally {
      log.error = original;
    }
  });
});

describe('retention (AUDIT_RETENTION_DAYS, default 365)', () => {
  const old = () => new Date(Date.now() - 400 * DAY_MS);
  const recent = () => new Date(Date.now() - 300 * DAY_MS);

  async function seedTenant(db: TenantContext['db'], label: string) {
    // `at` is not insertable through the table type (the database sets it): old rows go in with plain SQL.
    for (const [at, suffix] of [
      [old(), 'old'],
      [recent(), 'recent'],
    ] as const)
      await sql`insert into audit_events (at, action, request_id, detail)
                values (${at}, 'auth.logout', ${`${label}-${suffix}`}, '{}')`.execute(db);
  }

  const requestIds = async (db: TenantContext['db'], label: string) =>
    (
      await db
        .selectFrom('audit_events')
        .select('request_id')
        .where('request_id', 'like', `${label}-%`)
        .orderBy('request_id')
        .execute()
    ).map((r) => r.request_id);

  it('hides events past the retention from readers, even before they are pruned', async () => {
    const { db } = await tenantContext(acme.org.id);
    await seedTenant(db, 'hidden');
    const seen = (await allEvents(acmeAuth(), '?limit=100')).map((e) => e.request_id);
    assert.ok(seen.includes('hidden-recent'));
    assert.ok(!seen.includes('hidden-old'));
  });

  it('prunes a tenant: directly, and lazily after an event is recorded in it', async () => {
    const { db } = await tenantContext(globex.org.id);
    await seedTenant(db, 'direct');
    assert.equal(await t.app.services.auditPruner.pruneTenant(db), 1);
    assert.deepEqual(await requestIds(db, 'direct'), ['direct-recent']);

    // A fresh pruner (this process's one already pruned globex lately): recording an event triggers a pass.
    const pruner = new AuditPruner({
      core: t.app.core.db,
      retentionDays: 365,
      log: t.app.log,
      tenantEvents: new TenantAuditEventsRepository(),
      coreEvents: new CoreAuditEventsRepository(),
    });
    await seedTenant(db, 'lazy');
    pruner.touch(globex.org.id, db);
    await pruner.settle();
    assert.deepEqual(await requestIds(db, 'lazy'), ['lazy-recent']);
    // A second touch within the interval does nothing.
    await seedTenant(db, 'again');
    pruner.touch(globex.org.id, db);
    await pruner.settle();
    assert.deepEqual(await requestIds(db, 'again'), ['again-old', 'again-recent']);
  });

  it('prunes the core table', async () => {
    for (const [at, id] of [
      [old(), 'core-old'],
      [recent(), 'core-recent'],
    ] as const)
      await sql`insert into core_audit_events (at, action, request_id, owner_user_id, detail)
                values (${at}, 'account.login.failed', ${id}, ${acme.owner.id}, '{}')`.execute(t.app.core.db);
    assert.ok((await t.app.services.auditPruner.pruneCore()) >= 1);
    const left = await t.app.core.db
      .selectFrom('core_audit_events')
      .select('request_id')
      .where('request_id', 'in', ['core-old', 'core-recent'])
      .execute();
    assert.deepEqual(
      left.map((r) => r.request_id),
      ['core-recent'],
    );
  });
});
