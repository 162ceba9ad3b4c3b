import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, SignJWT } from 'jose';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { call, tokenFromOutbox, verifiedCoreUser, type Tokens } from '../helpers/flows.js';
import { startSmtpListener, parseMessage } from '../helpers/smtp-listener.js';

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(() => t.close());

const PASSWORD = 'correct horse battery';

describe('core registration and email verification', () => {
  it('registers, lower-cases the email, never returns a token, and refuses duplicates case-insensitively', async () => {
    const res = await call(t.app, 'POST', '/api/auth/register', {
      body: { email: '  Alice@Example.COM ', password: PASSWORD, is_owner: true },
    });
    assert.equal(res.statusCode, 201);
    const body = res.json<{ user: Record<string, unknown>; message: string }>();
    assert.equal(body.message, 'Verification email sent');
    assert.deepEqual(Object.keys(body.user).sort(), ['created_at', 'email', 'id', 'is_owner', 'is_verified']);
    assert.equal(body.user.email, 'alice@example.com');
    assert.equal(body.user.is_owner, true);
    assert.equal(body.user.is_verified, false);
    assert.match(String(body.user.created_at), /^\d{4}-\d{2}-\d{2}T.*Z$/);
    assert.doesNotMatch(res.body, /token|hash|argon/i);

    const dup = await call(t.app, 'POST', '/api/auth/register', {
      body: { email: 'ALICE@example.com', password: PASSWORD },
    });
    assert.equal(dup.statusCode, 409);
    assert.deepEqual(dup.json(), { detail: 'Email already registered', code: 'EMAIL_TAKEN' });
  });

  it('stores an argon2id hash, never the password', async () => {
    const row = await t.app.core.db
      .selectFrom('core_users')
      .select('password_hash')
      .where('email', '=', 'alice@example.com')
      .executeTakeFirstOrThrow();
    assert.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('validates email and password length', async () => {
    for (const body of [
      { email: 'not-an-email', password: PASSWORD },
      { email: 'short@example.com', password: '1234567' },
      { email: 'long@example.com', password: 'x'.repeat(129) },
      { email: 'missing@example.com' },
    ]) {
      const res = await call(t.app, 'POST', '/api/auth/register', { body });
      assert.equal(res.statusCode, 422, JSON.stringify(body));
      assert.equal(res.json<{ code: string }>().code, 'VALIDATION_ERROR');
    }
    const ok = await call(t.app, 'POST', '/api/auth/register', {
      body: { email: 'eight@example.com', password: '12345678' },
    });
    assert.equal(ok.statusCode, 201);
  });

  it('refuses login before verification, after checking the password', async () => {
    const unverified = await call(t.app, 'POST', '/api/auth/login', {
      body: { email: 'alice@example.com', password: PASSWORD },
    });
    assert.equal(unverified.statusCode, 403);
    assert.equal(unverified.json<{ code: string }>().code, 'EMAIL_NOT_VERIFIED');
    const wrong = await call(t.app, 'POST', '/api/auth/login', {
      body: { email: 'alice@example.com', password: 'wrong password' },
    });
    assert.equal(wrong.statusCode, 401);
  });

  it('verifies through the emailed link (file outbox), once; a second use says already verified', async () => {
    const token = await tokenFromOutbox(t.app, 'alice@example.com', '/api/auth/verify');
    assert.ok(token.length >= 43, 'at least 256 bits, base64url');
    const stored = await t.app.core.db.selectFrom('email_tokens').select('token_hash').execute();
    assert.ok(
      stored.every((row) => row.token_hash !== token),
      'only a hash is stored',
    );
    const first = await call(t.app, 'GET', `/api/auth/verify?token=${token}`);
    assert.equal(first.statusCode, 200);
    assert.deepEqual(first.json(), { message: 'Email verified successfully' });
    const again = await call(t.app, 'POST', '/api/auth/verify', { body: { token } });
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json(), { message: 'Email already verified' });
    const login = await call(t.app, 'POST', '/api/auth/login', {
      body: { email: 'alice@example.com', password: PASSWORD },
    });
    assert.equal(login.statusCode, 200);
  });

  it('answers 404 TOKEN_INVALID for an unknown token and 400 TOKEN_EXPIRED for an expired one', async () => {
    const unknown = await call(t.app, 'GET', '/api/auth/verify?token=nope');
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json<{ code: string }>().code, 'TOKEN_INVALID');

    await call(t.app, 'POST', '/api/auth/register', {
      body: { email: 'late@example.com', password: PASSWORD },
    });
    const token = await tokenFromOutbox(t.app, 'late@example.com', '/api/auth/verify');
    await t.app.core.db
      .updateTable('email_tokens')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('used_at', 'is', null)
      .execute();
    const expired = await call(t.app, 'POST', '/api/auth/verify', { body: { token } });
    assert.equal(expired.statusCode, 400);
    assert.equal(expired.json<{ code: string }>().code, 'TOKEN_EXPIRED');
  });

  it('resends a fresh link (202 whether or not the account exists); the new link replaces the old', async () => {
    const ghost = await call(t.app, 'POST', '/api/auth/verify/resend', {
      body: { email: 'ghost@example.com' },
    });
    assert.equal(ghost.statusCode, 202);
    const old = await tokenFromOutbox(t.app, 'late@example.com', '/api/auth/verify');
    const res = await call(t.app, 'POST', '/api/auth/verify/resend', { body: { email: 'LATE@example.com' } });
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json(), ghost.json(), 'identical answers: no account enumeration');
    const fresh = await tokenFromOutbox(t.app, 'late@example.com', '/api/auth/verify');
    assert.notEqual(fresh, old);
    assert.equal((await call(t.app, 'GET', `/api/auth/verify?token=${old}`)).statusCode, 404, 'superseded');
    assert.equal((await call(t.app, 'GET', `/api/auth/verify?token=${fresh}`)).statusCode, 200);
  });

  it('refuses X-TENANT on core-only routes without resolving it', async () => {
    const res = await call(t.app, 'POST', '/api/auth/verify/resend', {
      body: { email: 'a@example.com' },
      tenant: '999999',
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json<{ code: string }>().code, 'TENANT_NOT_ALLOWED');
  });
});

describe('core login and tokens', () => {
  let bob: { tokens: Tokens; password: string; id: number };
  before(async () => {
    bob = await verifiedCoreUser(t.app, 'bob@example.com');
  });

  it('issues a core access token with the documented claims and a refresh token', () => {
    assert.equal(bob.tokens.token_type, 'bearer');
    assert.equal(bob.tokens.expires_in, 1800);
    assert.ok(bob.tokens.refresh_token.length >= 43);
    const claims = decodeJwt(bob.tokens.access_token);
    assert.equal(claims.aud, 'core');
    assert.equal(claims.iss, 'tenantry');
    assert.equal(claims.sub, String(bob.id));
    assert.equal(typeof claims.jti, 'string');
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 1800);
    assert.equal('tid' in claims, false);
  });

  it('accepts the OAuth2 password form', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `username=BOB%40example.com&password=${encodeURIComponent(bob.password)}`,
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json<Tokens>().token_type, 'bearer');
  });

  it('answers unknown email and wrong password identically', async () => {
    const unknown = await call(t.app, 'POST', '/api/auth/login', {
      body: { email: 'nobody@example.com', password: PASSWORD },
    });
    const wrong = await call(t.app, 'POST', '/api/auth/login', {
      body: { email: 'bob@example.com', password: 'not the password' },
    });
    assert.equal(unknown.statusCode, 401);
    assert.equal(wrong.statusCode, 401);
    assert.deepEqual(unknown.json(), { detail: 'Incorrect email or password', code: 'INVALID_CREDENTIALS' });
    assert.deepEqual(wrong.json(), unknown.json());
    assert.equal(wrong.headers['www-authenticate'], 'Bearer');
  });

  it('GET /api/users/me answers the caller', async () => {
    const res = await call(t.app, 'GET', '/api/users/me', { token: bob.tokens.access_token });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json<{ email: string }>().email, 'bob@example.com');
    assert.equal((await call(t.app, 'GET', '/api/users/me')).statusCode, 401);
  });

  it('refuses forged, unsigned, wrongly addressed and expired tokens with 401 TOKEN_INVALID', async () => {
    const key = new TextEncoder().encode(t.config.secretKey);
    const sign = (claims: Record<string, unknown>, secret = key) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('tenantry')
        .setSubject(String(bob.id))
        .setJti('x')
        .setIssuedAt()
        .sign(secret);
    const [header, payload] = bob.tokens.access_token.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...decodeJwt(bob.tokens.access_token), sub: '1' })).toString('base64url')}.${bob.tokens.access_token.split('.')[2]}`;
    const attempts = {
      none,
      tampered,
      wrongKey: await sign(
        { aud: 'core', exp: Math.floor(Date.now() / 1000) + 60 },
        new TextEncoder().encode('another-secret-that-is-long-enough!!'),
      ),
      tenantAudience: await sign({
        aud: 'tenant',
        tid: 1,
        role: 'owner',
        exp: Math.floor(Date.now() / 1000) + 60,
      }),
      expired: await sign({ aud: 'core', exp: Math.floor(Date.now() / 1000) - 10 }),
      garbage: 'not.a.jwt',
    };
    for (const [name, token] of Object.entries(attempts)) {
      const res = await call(t.app, 'GET', '/api/users/me', { token });
      assert.equal(res.statusCode, 401, name);
      assert.deepEqual(res.json(), { detail: 'Could not validate credentials', code: 'TOKEN_INVALID' }, name);
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
  });

  it('rotates refresh tokens; reusing a used one revokes the whole family', async () => {
    const session = (
      await call(t.app, 'POST', '/api/auth/login', {
        body: { email: 'bob@example.com', password: bob.password },
      })
    ).json<Tokens>();
    const first = await call(t.app, 'POST', '/api/auth/refresh', {
      body: { refresh_token: session.refresh_token },
    });
    assert.equal(first.statusCode, 200);
    const rotated = first.json<Tokens>();
    assert.notEqual(rotated.refresh_token, session.refresh_token);
    assert.equal(decodeJwt(rotated.access_token).aud, 'core');

    const reuse = await call(t.app, 'POST', '/api/auth/refresh', {
      body: { refresh_token: session.refresh_token },
    });
    assert.equal(reuse.statusCode, 401);
    const afterTheft = await call(t.app, 'POST', '/api/auth/refresh', {
      body: { refresh_token: rotated.refresh_token },
    });
    assert.equal(afterTheft.statusCode, 401, 'the family is revoked');
    // Another session (another family) is untouched.
    const other = await call(t.app, 'POST', '/api/auth/refresh', {
      body: { refresh_token: bob.tokens.refresh_token },
    });
    assert.equal(other.statusCode, 200);
    bob.tokens = other.json<Tokens>();
  });

  it('logout revokes the refresh token (204, idempotent)', async () => {
    const session = (
      await call(t.app, 'POST', '/api/auth/login', {
        body: { email: 'bob@example.com', password: bob.password },
      })
    ).json<Tokens>();
    const out = await call(t.app, 'POST', '/api/auth/logout', {
      body: { refresh_token: session.refresh_token },
    });
    assert.equal(out.statusCode, 204);
    assert.equal(
      (await call(t.app, 'POST', '/api/auth/logout', { body: { refresh_token: session.refresh_token } }))
        .statusCode,
      204,
    );
    const refresh = await call(t.app, 'POST', '/api/auth/refresh', {
      body: { refresh_token: session.refresh_token },
    });
    assert.equal(refresh.statusCode, 401);
  });

  it('changes the password only with the right current password, and ends other sessions', async () => {
    const missing = await call(t.app, 'PATCH', '/api/users/me', {
      token: bob.tokens.access_token,
      body: { password: 'a new password' },
    });
    assert.equal(missing.statusCode, 422);
    const wrong = await call(t.app, 'PATCH', '/api/users/me', {
      token: bob.tokens.access_token,
      body: { password: 'a new password', current_password: 'nope nope' },
    });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json<{ code: string }>().code, 'INVALID_CREDENTIALS');
    const ok = await call(t.app, 'PATCH', '/api/users/me', {
      token: bob.tokens.access_token,
      body: { password: 'a new password', current_password: bob.password },
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json<{ email: string }>().email, 'bob@example.com');
    assert.equal(
      (await call(t.app, 'POST', '/api/auth/refresh', { body: { refresh_token: bob.tokens.refresh_token } }))
        .statusCode,
      401,
    );
    assert.equal(
      (
        await call(t.app, 'POST', '/api/auth/login', {
          body: { email: 'bob@example.com', password: bob.password },
        })
      ).statusCode,
      401,
    );
    assert.equal(
      (
        await call(t.app, 'POST', '/api/auth/login', {
          body: { email: 'bob@example.com', password: 'a new password' },
        })
      ).statusCode,
      200,
    );
  });
});

describe('password reset', () => {
  it('answers 202 either way, emails a single-use link, sets the password and ends every session', async () => {
    const carol = await verifiedCoreUser(t.app, 'carol@example.com');
    const ghost = await call(t.app, 'POST', '/api/auth/password-reset', {
      body: { email: 'ghost@example.com' },
    });
    const res = await call(t.app, 'POST', '/api/auth/password-reset', {
      body: { email: 'Carol@example.com' },
    });
    assert.equal(ghost.statusCode, 202);
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json(), ghost.json());
    const token = await tokenFromOutbox(t.app, 'carol@example.com', '/reset-password');

    const short = await call(t.app, 'POST', '/api/auth/password-reset/confirm', {
      body: { token, password: 'short' },
    });
    assert.equal(short.statusCode, 422);
    const confirm = await call(t.app, 'POST', '/api/auth/password-reset/confirm', {
      body: { token, password: 'brand new secret' },
    });
    assert.equal(confirm.statusCode, 204);
    const reused = await call(t.app, 'POST', '/api/auth/password-reset/confirm', {
      body: { token, password: 'another secret' },
    });
    assert.equal(reused.statusCode, 404);
    assert.equal(
      (
        await call(t.app, 'POST', '/api/auth/refresh', {
          body: { refresh_token: carol.tokens.refresh_token },
        })
      ).statusCode,
      401,
    );
    assert.equal(
      (
        await call(t.app, 'POST', '/api/auth/login', {
          body: { email: 'carol@example.com', password: carol.password },
        })
      ).statusCode,
      401,
    );
    assert.equal(
      (
        await call(t.app, 'POST', '/api/auth/login', {
          body: { email: 'carol@example.com', password: 'brand new secret' },
        })
      ).statusCode,
      200,
    );
  });

  it('refuses an expired reset token with 400 TOKEN_EXPIRED', async () => {
    await call(t.app, 'POST', '/api/auth/password-reset', { body: { email: 'carol@example.com' } });
    const token = await tokenFromOutbox(t.app, 'carol@example.com', '/reset-password');
    await t.app.core.db
      .updateTable('email_tokens')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('purpose', '=', 'reset')
      .execute();
    const res = await call(t.app, 'POST', '/api/auth/password-reset/confirm', {
      body: { token, password: 'whatever secret' },
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json<{ code: string }>().code, 'TOKEN_EXPIRED');
  });
});

describe('verification email over real SMTP', () => {
  it('delivers the link to an SMTP server, and the link verifies the account', async () => {
    const smtp = await startSmtpListener();
    const s = await createTestApp({ SMTP_URL: smtp.url, PUBLIC_URL: 'https://api.example.test' });
    try {
      const res = await call(s.app, 'POST', '/api/auth/register', {
        body: { email: 'dana@example.com', password: PASSWORD },
      });
      assert.equal(res.statusCode, 201);
      // The background sender delivers it: no flush here.
      const mail = await smtp.waitForMessage((m) => m.envelope.to.includes('dana@example.com'), 15_000);
      const text = parseMessage(mail.raw).text ?? '';
      const match = /https:\/\/api\.example\.test\/api\/auth\/verify\?token=([A-Za-z0-9_-]+)/.exec(text);
      assert.ok(match?.[1], text);
      const verified = await call(s.app, 'GET', `/api/auth/verify?token=${match[1]}`);
      assert.equal(verified.statusCode, 200);
      assert.equal(
        (
          await call(s.app, 'POST', '/api/auth/login', {
            body: { email: 'dana@example.com', password: PASSWORD },
          })
        ).statusCode,
        200,
      );
    } finally {
      await s.close();
      await smtp.close();
    }
  });

  it('still registers when the SMTP server is down', async () => {
    const s = await createTestApp({ SMTP_URL: 'smtp://127.0.0.1:9' });
    try {
      const res = await call(s.app, 'POST', '/api/auth/register', {
        body: { email: 'erin@example.com', password: PASSWORD },
      });
      assert.equal(res.statusCode, 201);
      const pending = await s.app.core.db.selectFrom('mail_outbox').select(['sent_at']).execute();
      assert.equal(pending.length, 1);
      assert.equal(pending[0]?.sent_at, null);
    } finally {
      await s.close();
    }
  });
});
