import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { call, type Tokens } from '../helpers/flows.js';
import { parseMessage, startSmtpListener, type SmtpListener } from '../helpers/smtp-listener.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { recordErrorAnswers, undocumentedAnswers, type ErrorAnswer } from '../helpers/documented-errors.js';

// Invitations end to end, on the engine under test, with mail delivered to a real SMTP listener: the tokens
// used below are the ones a person would read in the email.

const PUBLIC_URL = 'https://app.example.test';
const PASSWORD = 'invited long passphrase';

interface Invitation {
  id: number;
  email: string;
  role: string;
  status: string;
  invited_by: number | null;
  expires_at: string;
  created_at: string;
}
interface Page {
  items: Invitation[];
  next_cursor: string | null;
}

let smtp: SmtpListener;
let t: TestApp;
let app: FastifyInstance;
let errorAnswers: ErrorAnswer[];
/** Owner of `acme` (and `globex`), and users of acme with each role. */
let ownerToken: string;
let adminToken: string;
let memberToken: string;
let globexOwnerToken: string;

const codeOf = (res: LightMyRequestResponse) => res.json<{ code?: string }>().code;

function expectError(res: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(codeOf(res), code, res.body);
}

/** The newest message to `to` that arrived after `since` messages had been received. */
async function mailTo(to: string, since: number): Promise<string> {
  await app.services.mailer.flush();
  const message = await smtp.waitForMessage(
    (m) => smtp.messages.indexOf(m) >= since && m.envelope.to.includes(to),
    15_000,
  );
  return parseMessage(message.raw).text ?? '';
}

/** The token of the invitation link in an email's text (and that the link is the documented one). */
function invitationToken(text: string, slug: string): string {
  const pattern = new RegExp(
    `${PUBLIC_URL.replace(/[.]/g, '\\.')}/invitations/accept\\?tenant=${slug}&token=([A-Za-z0-9_-]+)`,
  );
  const token = pattern.exec(text)?.[1];
  assert.ok(token, text);
  return token;
}

/** Registers, verifies through the emailed link, logs in: an owner core account. */
async function ownerCoreToken(email: string): Promise<string> {
  const since = smtp.messages.length;
  const registered = await call(app, 'POST', '/api/auth/register', {
    body: { email, password: PASSWORD, is_owner: true },
  });
  assert.equal(registered.statusCode, 201, registered.body);
  const token = /\/api\/auth\/verify\?token=([A-Za-z0-9_-]+)/.exec(await mailTo(email, since))?.[1];
  assert.equal((await call(app, 'GET', `/api/auth/verify?token=${token}`)).statusCode, 200);
  const login = await call(app, 'POST', '/api/auth/login', { body: { email, password: PASSWORD } });
  return login.json<Tokens>().access_token;
}

async function organization(coreToken: string, name: string, slug: string): Promise<string> {
  const created = await call(app, 'POST', '/api/organizations', { token: coreToken, body: { name, slug } });
  assert.equal(created.statusCode, 201, created.body);
  const id = created.json<{ id: number }>().id;
  const exchanged = await call(app, 'POST', `/api/organizations/${id}/token`, { token: coreToken });
  return exchanged.json<Tokens>().access_token;
}

function invite(token: string, email: string, role: string, tenant = 'acme') {
  return call(app, 'POST', '/api/invitations', { tenant, token, body: { email, role } });
}

/** Invites and returns the invitation with the token from its email. */
async function invited(token: string, email: string, role: string, tenant = 'acme') {
  const since = smtp.messages.length;
  const res = await invite(token, email, role, tenant);
  assert.equal(res.statusCode, 201, res.body);
  return { invitation: res.json<Invitation>(), token: invitationToken(await mailTo(email, since), tenant) };
}

function lookup(token: string, tenant = 'acme') {
  return call(app, 'GET', `/api/invitations/lookup?token=${encodeURIComponent(token)}`, { tenant });
}

function accept(token: string, tenant = 'acme', password = PASSWORD) {
  return call(app, 'POST', '/api/invitations/accept', { tenant, body: { token, password } });
}

function list(query: string, token = ownerToken, tenant = 'acme') {
  return call(app, 'GET', `/api/invitations${query}`, { tenant, token });
}

async function login(email: string, tenant = 'acme') {
  return call(app, 'POST', '/api/auth/login', { tenant, body: { email, password: PASSWORD } });
}

/** Moves an invitation's expiry into the past, directly in the tenant's database. */
async function expire(id: number, tenant = 'acme'): Promise<void> {
  const context = await app.services.tenants.enter(tenant);
  await context.db
    .updateTable('tenant_invitations')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', id)
    .execute();
}

before(async () => {
  smtp = await startSmtpListener();
  t = await createTestApp(
    // A generous per-route limit: its headers show which routes have one, without ever refusing a test.
    { SMTP_URL: smtp.url, PUBLIC_URL, AUTH_RATE_LIMIT: '1000/minute' },
    { beforeReady: (built) => void (errorAnswers = recordErrorAnswers(built)) },
  );
  app = t.app;
  const core = await ownerCoreToken('owner@example.com');
  ownerToken = await organization(core, 'Acme Corp', 'acme');
  globexOwnerToken = await organization(core, 'Globex', 'globex');
  const admin = await invited(ownerToken, 'admin@example.com', 'admin');
  assert.equal((await accept(admin.token)).statusCode, 201);
  adminToken = (await login('admin@example.com')).json<Tokens>().access_token;
  const registered = await call(app, 'POST', '/api/auth/register', {
    tenant: 'acme',
    body: { email: 'member@example.com', password: PASSWORD },
  });
  assert.equal(registered.statusCode, 201, registered.body);
  memberToken = (await login('member@example.com')).json<Tokens>().access_token;
});
after(async () => {
  await t?.close();
  await smtp?.close();
});

describe('invitations: invite, look up, accept', () => {
  it('emails the documented link; lookup shows the organization, email and role; accept creates the user', async () => {
    const since = smtp.messages.length;
    const res = await invite(ownerToken, '  Linus@Example.com ', 'admin');
    assert.equal(res.statusCode, 201, res.body);
    const invitation = res.json<Invitation>();
    assert.deepEqual(Object.keys(invitation).sort(), [
      'created_at',
      'email',
      'expires_at',
      'id',
      'invited_by',
      'role',
      'status',
    ]);
    assert.equal(invitation.email, 'linus@example.com');
    assert.equal(invitation.role, 'admin');
    assert.equal(invitation.status, 'pending');
    assert.equal(typeof invitation.invited_by, 'number');
    // VERIFICATION_TOKEN_EXPIRE_HOURS (24 by default) from now.
    const hours = (Date.parse(invitation.expires_at) - Date.parse(invitation.created_at)) / 3_600_000;
    assert.ok(hours > 23.9 && hours <= 24.01, String(hours));

    const text = await mailTo('linus@example.com', since);
    assert.match(text, /Acme Corp/);
    assert.match(text, /as admin/);
    assert.doesNotMatch(text, /owner@example\.com/);
    const token = invitationToken(text, 'acme');
    // 256 random bits, URL-safe; only a hash is stored.
    assert.equal(Buffer.from(token, 'base64url').length, 32);
    const context = await app.services.tenants.enter('acme');
    const row = await context.db
      .selectFrom('tenant_invitations')
      .selectAll()
      .where('id', '=', invitation.id)
      .executeTakeFirstOrThrow();
    assert.notEqual(row.token_hash, token);
    assert.ok(!JSON.stringify(row).includes(token));

    const looked = await lookup(token);
    assert.equal(looked.statusCode, 200, looked.body);
    assert.deepEqual(looked.json(), {
      organization: { name: 'Acme Corp', slug: 'acme' },
      email: 'linus@example.com',
      role: 'admin',
      expires_at: invitation.expires_at,
    });
    // Nobody else's address: not the inviter's, not other users'.
    for (const other of ['owner@example.com', 'admin@example.com', 'member@example.com'])
      assert.ok(!looked.body.includes(other));

    const accepted = await accept(token);
    assert.equal(accepted.statusCode, 201, accepted.body);
    const user = accepted.json<{ id: number; email: string; role: string; is_active: boolean }>();
    assert.deepEqual([user.email, user.role, user.is_active], ['linus@example.com', 'admin', true]);
    const tokens = (await login('linus@example.com')).json<Tokens>();
    const me = await call(app, 'GET', '/api/users/me', { tenant: 'acme', token: tokens.access_token });
    assert.equal(me.json<{ role: string }>().role, 'admin');

    const listed = (await list('?status=accepted')).json<Page>();
    assert.ok(listed.items.some((i) => i.id === invitation.id && i.status === 'accepted'));
  });

  it('a used token is 404 TOKEN_INVALID on lookup and on accept', async () => {
    const { token } = await invited(ownerToken, 'reuse@example.com', 'member');
    assert.equal((await accept(token)).statusCode, 201);
    expectError(await accept(token, 'acme', 'another password 1'), 404, 'TOKEN_INVALID');
    expectError(await lookup(token), 404, 'TOKEN_INVALID');
    expectError(await lookup('never-issued-token'), 404, 'TOKEN_INVALID');
    expectError(await accept('never-issued-token'), 404, 'TOKEN_INVALID');
  });

  it('an expired token is 400 TOKEN_EXPIRED on lookup and accept, and listed as expired', async () => {
    const { invitation, token } = await invited(ownerToken, 'late@example.com', 'member');
    await expire(invitation.id);
    expectError(await lookup(token), 400, 'TOKEN_EXPIRED');
    expectError(await accept(token), 400, 'TOKEN_EXPIRED');
    expectError(await login('late@example.com'), 401, 'INVALID_CREDENTIALS');
    const expired = (await list('?status=expired')).json<Page>();
    assert.deepEqual(
      expired.items.filter((i) => i.email === 'late@example.com').map((i) => i.status),
      ['expired'],
    );
    const pending = (await list('')).json<Page>();
    assert.ok(!pending.items.some((i) => i.email === 'late@example.com'));
    // Only pending ones are resent; an expired one is invited anew.
    expectError(
      await call(app, 'POST', `/api/invitations/${invitation.id}/resend`, {
        tenant: 'acme',
        token: ownerToken,
      }),
      409,
      'INVITATION_NOT_PENDING',
    );
    const again = await invited(ownerToken, 'late@example.com', 'member');
    assert.equal((await accept(again.token)).statusCode, 201);
  });

  it('a revoked invitation is dead; revoking is idempotent; an accepted one cannot be revoked', async () => {
    const { invitation, token } = await invited(ownerToken, 'revoked@example.com', 'member');
    const revoke = () =>
      call(app, 'DELETE', `/api/invitations/${invitation.id}`, { tenant: 'acme', token: adminToken });
    const first = await revoke();
    assert.equal(first.statusCode, 204, first.body);
    assert.equal((await revoke()).statusCode, 204);
    expectError(await lookup(token), 404, 'TOKEN_INVALID');
    expectError(await accept(token), 404, 'TOKEN_INVALID');
    const revoked = (await list('?status=revoked')).json<Page>();
    assert.ok(revoked.items.some((i) => i.id === invitation.id && i.status === 'revoked'));
    expectError(
      await call(app, 'POST', `/api/invitations/${invitation.id}/resend`, {
        tenant: 'acme',
        token: ownerToken,
      }),
      409,
      'INVITATION_NOT_PENDING',
    );

    const used = await invited(ownerToken, 'stays@example.com', 'member');
    assert.equal((await accept(used.token)).statusCode, 201);
    expectError(
      await call(app, 'DELETE', `/api/invitations/${used.invitation.id}`, {
        tenant: 'acme',
        token: ownerToken,
      }),
      409,
      'INVITATION_NOT_PENDING',
    );
    expectError(
      await call(app, 'DELETE', '/api/invitations/999999', { tenant: 'acme', token: ownerToken }),
      404,
      'NOT_FOUND',
    );
  });

  it('a new invitation to an email with a pending one replaces it: the old link dies', async () => {
    const first = await invited(ownerToken, 'twice@example.com', 'member');
    const second = await invited(adminToken, 'twice@example.com', 'admin');
    assert.notEqual(first.token, second.token);
    expectError(await lookup(first.token), 404, 'TOKEN_INVALID');
    expectError(await accept(first.token), 404, 'TOKEN_INVALID');
    const pending = (await list('')).json<Page>();
    assert.deepEqual(
      pending.items.filter((i) => i.email === 'twice@example.com').map((i) => [i.id, i.role]),
      [[second.invitation.id, 'admin']],
    );
    const revoked = (await list('?status=revoked')).json<Page>();
    assert.ok(revoked.items.some((i) => i.id === first.invitation.id));
    const accepted = await accept(second.token);
    assert.equal(accepted.json<{ role: string }>().role, 'admin');
  });

  it('resend emails a new link and kills the old one (pending only; 404 for an unknown id)', async () => {
    const { invitation, token } = await invited(ownerToken, 'resend@example.com', 'member');
    const since = smtp.messages.length;
    const res = await call(app, 'POST', `/api/invitations/${invitation.id}/resend`, {
      tenant: 'acme',
      token: adminToken,
    });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json<Invitation>().id, invitation.id);
    assert.equal(res.json<Invitation>().status, 'pending');
    const fresh = invitationToken(await mailTo('resend@example.com', since), 'acme');
    assert.notEqual(fresh, token);
    expectError(await lookup(token), 404, 'TOKEN_INVALID');
    expectError(await accept(token), 404, 'TOKEN_INVALID');
    assert.equal((await lookup(fresh)).statusCode, 200);
    assert.equal((await accept(fresh)).statusCode, 201);
    expectError(
      await call(app, 'POST', '/api/invitations/999999/resend', { tenant: 'acme', token: ownerToken }),
      404,
      'NOT_FOUND',
    );
  });
});

describe('invitations: who may invite whom', () => {
  it('an admin cannot invite an owner (403), nor revoke or resend an owner invitation; an owner can', async () => {
    expectError(await invite(adminToken, 'boss@example.com', 'owner'), 403, 'FORBIDDEN');
    const { invitation, token } = await invited(ownerToken, 'boss@example.com', 'owner');
    for (const [method, url] of [
      ['DELETE', `/api/invitations/${invitation.id}`],
      ['POST', `/api/invitations/${invitation.id}/resend`],
    ] as const)
      expectError(await call(app, method, url, { tenant: 'acme', token: adminToken }), 403, 'FORBIDDEN');
    const accepted = await accept(token);
    assert.equal(accepted.json<{ role: string }>().role, 'owner');
    // Admins invite admins and members.
    assert.equal((await invite(adminToken, 'by-admin@example.com', 'member')).statusCode, 201);
  });

  it('a member cannot invite or list (403), and an anonymous caller gets 401', async () => {
    expectError(await invite(memberToken, 'friend@example.com', 'member'), 403, 'FORBIDDEN');
    expectError(await list('', memberToken), 403, 'FORBIDDEN');
    expectError(
      await call(app, 'POST', '/api/invitations', {
        tenant: 'acme',
        body: { email: 'x@example.com', role: 'member' },
      }),
      401,
      'NOT_AUTHENTICATED',
    );
  });

  it('an email that already has a user is 409 ALREADY_MEMBER; so is accepting after someone registered it', async () => {
    for (const email of ['member@example.com', 'OWNER@example.com'])
      expectError(await invite(ownerToken, email, 'member'), 409, 'ALREADY_MEMBER');
    const { token } = await invited(ownerToken, 'racer@example.com', 'admin');
    const registered = await call(app, 'POST', '/api/auth/register', {
      tenant: 'acme',
      body: { email: 'racer@example.com', password: PASSWORD },
    });
    assert.equal(registered.statusCode, 201);
    expectError(await accept(token), 409, 'ALREADY_MEMBER');
    // Nothing changed: the registered user keeps the member role.
    const me = await call(app, 'GET', '/api/users/me', {
      tenant: 'acme',
      token: (await login('racer@example.com')).json<Tokens>().access_token,
    });
    assert.equal(me.json<{ role: string }>().role, 'member');
  });

  it('accepting works when the organization disabled open sign-up', async () => {
    const orgs = await app.services.organizationRows.findLive({ kind: 'slug', slug: 'acme' });
    assert.ok(orgs);
    const core = await call(app, 'POST', '/api/auth/login', {
      body: { email: 'owner@example.com', password: PASSWORD },
    });
    const coreToken = core.json<Tokens>().access_token;
    const set = (allow: boolean) =>
      call(app, 'PATCH', `/api/organizations/${orgs.id}`, {
        token: coreToken,
        body: { allow_signup: allow },
      });
    assert.equal((await set(false)).statusCode, 200);
    try {
      expectError(
        await call(app, 'POST', '/api/auth/register', {
          tenant: 'acme',
          body: { email: 'closed@example.com', password: PASSWORD },
        }),
        403,
        'SIGNUP_DISABLED',
      );
      const { token } = await invited(ownerToken, 'closed@example.com', 'member');
      const accepted = await accept(token);
      assert.equal(accepted.statusCode, 201, accepted.body);
      assert.equal((await login('closed@example.com')).statusCode, 200);
    } finally {
      await set(true);
    }
  });
});

describe('invitations: lists and validation', () => {
  it('filters by status (default pending) and pages with limit and cursor', async () => {
    const emails = ['page-1@example.com', 'page-2@example.com', 'page-3@example.com'];
    for (const email of emails) assert.equal((await invite(ownerToken, email, 'member')).statusCode, 201);
    const all = (await list('?limit=100')).json<Page>();
    assert.ok(all.items.every((i) => i.status === 'pending'));
    assert.equal(all.next_cursor, null);
    const pendingIds = all.items.map((i) => i.id);
    assert.ok(pendingIds.length >= 3);
    // Page through two at a time: the same items, in id order, each once.
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?status=pending&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page: Page = (await list(query)).json<Page>();
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, pendingIds);
    assert.deepEqual(
      [...seen].sort((x, y) => x - y),
      seen,
    );
    // One of each other status, made here (earlier tests' may have been replaced since).
    const lapsed = await invite(ownerToken, 'page-expired@example.com', 'member');
    await expire(lapsed.json<Invitation>().id);
    const withdrawn = await invite(ownerToken, 'page-revoked@example.com', 'member');
    await call(app, 'DELETE', `/api/invitations/${withdrawn.json<Invitation>().id}`, {
      tenant: 'acme',
      token: ownerToken,
    });
    const taken = await invited(ownerToken, 'page-accepted@example.com', 'member');
    assert.equal((await accept(taken.token)).statusCode, 201);
    for (const status of ['accepted', 'revoked', 'expired']) {
      const page = (await list(`?status=${status}&limit=100`)).json<Page>();
      assert.ok(page.items.length > 0, status);
      assert.ok(
        page.items.every((i) => i.status === status),
        status,
      );
    }
  });

  it('answers 422 VALIDATION_ERROR for bad input, before doing anything', async () => {
    const before = (await list('?limit=100')).json<Page>().items.length;
    const cases: ['GET' | 'POST' | 'DELETE', string, unknown][] = [
      ['POST', '/api/invitations', { email: 'not-an-email', role: 'member' }],
      ['POST', '/api/invitations', { email: 'x<evil@attacker.co>', role: 'member' }],
      ['POST', '/api/invitations', { email: 'ok@example.com', role: 'superuser' }],
      ['POST', '/api/invitations', { email: 'ok@example.com' }],
      ['POST', '/api/invitations', undefined],
      ['POST', '/api/invitations/accept', { token: 'whatever', password: 'short' }],
      ['POST', '/api/invitations/accept', { password: PASSWORD }],
      ['POST', '/api/invitations/accept', { token: '', password: PASSWORD }],
      ['GET', '/api/invitations?status=nonsense', undefined],
      ['GET', '/api/invitations?limit=0', undefined],
      ['GET', '/api/invitations?limit=101', undefined],
      ['GET', '/api/invitations?cursor=bm90LWEtY3Vyc29y', undefined],
      ['GET', '/api/invitations/lookup', undefined],
      ['DELETE', '/api/invitations/0', undefined],
      ['DELETE', '/api/invitations/abc', undefined],
      ['POST', '/api/invitations/abc/resend', undefined],
    ];
    for (const [method, url, body] of cases) {
      const res = await call(app, method, url, {
        tenant: 'acme',
        token: ownerToken,
        ...(body === undefined ? {} : { body }),
      });
      assert.equal(res.statusCode, 422, `${method} ${url} ${JSON.stringify(body)}: ${res.body}`);
      const error = res.json<{ code: string; errors: { path: string }[] }>();
      assert.equal(error.code, 'VALIDATION_ERROR');
      assert.ok(error.errors.length > 0);
    }
    assert.equal((await list('?limit=100')).json<Page>().items.length, before);
  });

  it('limits the mail-sending and token routes per client like the other mail routes', async () => {
    const { invitation, token } = await invited(ownerToken, 'limits@example.com', 'member');
    const answers = [
      await invite(ownerToken, 'limits-2@example.com', 'member'),
      await call(app, 'POST', `/api/invitations/${invitation.id}/resend`, {
        tenant: 'acme',
        token: ownerToken,
      }),
      await lookup(token),
      await accept('no-such-token'),
    ];
    for (const res of answers) assert.equal(res.headers['ratelimit-limit'], '1000', res.body);
    // Listing and revoking send nothing: only the global limit (off here).
    assert.equal((await list('')).headers['ratelimit-limit'], undefined);
  });
});

describe('invitations: tenants do not mix', () => {
  it('a token of one tenant is useless in another, and each tenant lists only its own', async () => {
    const { invitation, token } = await invited(ownerToken, 'crossing@example.com', 'admin');
    expectError(await lookup(token, 'globex'), 404, 'TOKEN_INVALID');
    expectError(await accept(token, 'globex'), 404, 'TOKEN_INVALID');
    const globex = (await list('?limit=100', globexOwnerToken, 'globex')).json<Page>();
    assert.deepEqual(globex.items, []);
    // The same id in the other tenant is not found (ids coincide across tenant databases).
    expectError(
      await call(app, 'DELETE', `/api/invitations/${invitation.id}`, {
        tenant: 'globex',
        token: globexOwnerToken,
      }),
      404,
      'NOT_FOUND',
    );
    // acme's token on globex, and globex's on acme: the guard refuses it.
    expectError(await list('', ownerToken, 'globex'), 401, 'TOKEN_INVALID');
    expectError(await invite(globexOwnerToken, 'x@example.com', 'member', 'acme'), 401, 'TOKEN_INVALID');
    // The invitation still works at home.
    assert.equal((await lookup(token)).statusCode, 200);
  });

  it('works in a shared-placement tenant (a schema of a shared database)', async () => {
    const owner = await app.services.organizationRows.findLive({ kind: 'slug', slug: 'acme' });
    assert.ok(owner);
    const row = await app.services.organizationRows.insertWithSlug(owner.owner_id, 'Shared Co', 'shared-co', {
      placement: 'shared',
    });
    app.services.tenants.invalidate(row.id, row.slug);
    await app.services.provisioner.provision(row.id);
    const core = await call(app, 'POST', '/api/auth/login', {
      body: { email: 'owner@example.com', password: PASSWORD },
    });
    const exchanged = await call(app, 'POST', `/api/organizations/${row.id}/token`, {
      token: core.json<Tokens>().access_token,
    });
    const sharedOwner = exchanged.json<Tokens>().access_token;
    const { token } = await invited(sharedOwner, 'shared-admin@example.com', 'admin', 'shared-co');
    expectError(await lookup(token), 404, 'TOKEN_INVALID');
    const looked = await lookup(token, 'shared-co');
    assert.equal(looked.json<{ organization: { name: string } }>().organization.name, 'Shared Co');
    assert.equal((await accept(token, 'shared-co')).statusCode, 201);
    assert.equal((await login('shared-admin@example.com', 'shared-co')).statusCode, 200);
    assert.equal((await login('shared-admin@example.com')).statusCode, 401);
    const accepted = (await list('?status=accepted', sharedOwner, 'shared-co')).json<Page>();
    assert.deepEqual(
      accepted.items.map((i) => i.email),
      ['shared-admin@example.com'],
    );
  });
});

describe('invitations: documented answers', () => {
  it('every error answer seen in this file is documented for its route in the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<
      Parameters<typeof undocumentedAnswers>[0]
    >();
    const mine = errorAnswers.filter((a) => a.route.startsWith('/api/invitations'));
    assert.ok(mine.length > 20, String(mine.length));
    assert.deepEqual(undocumentedAnswers(doc, mine), []);
  });
});
