import assert from 'node:assert/strict';
import { createHmac, createSecretKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { jwtVerify, SignJWT } from 'jose';
import { AccessTokens, CLOCK_SKEW_SECONDS } from '../../src/auth/access-tokens.js';
import { signHmacJwt, verifyHmacJwt } from '../../src/auth/hmac-jwt.js';
import { VerifiedTokenCache } from '../../src/auth/verified-token-cache.js';
import { AppError } from '../../src/errors.js';

const SECRET = 'k'.repeat(48);
const KEY = createSecretKey(Buffer.from(SECRET, 'utf8'));
const CONFIG = {
  secretKey: SECRET,
  algorithm: 'HS256' as const,
  jwtIssuer: 'tenantry',
  accessTokenExpireMinutes: 15,
};
const now = () => Math.floor(Date.now() / 1000);
const CHECKS = { algorithm: 'HS256' as const, issuer: 'tenantry', audience: 'tenant', clockSkewSeconds: 60 };

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token signed with the server's key, header and claims exactly as given (jose would refuse some of them). */
function handMade(header: Record<string, unknown>, claims: Record<string, unknown>, key = SECRET): string {
  const signed = `${b64(header)}.${b64(claims)}`;
  return `${signed}.${createHmac('sha256', key).update(signed).digest('base64url')}`;
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const t = now();
  return {
    iss: 'tenantry',
    aud: 'tenant',
    sub: '7',
    jti: 'j-1',
    iat: t,
    exp: t + 600,
    tid: 3,
    role: 'member',
    ...overrides,
  };
}

const HEADER = { alg: 'HS256', typ: 'JWT' };

describe('verifyHmacJwt', () => {
  it('accepts a token jose signed, with its claims', async () => {
    const token = await new SignJWT({ tid: 3, role: 'admin' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('tenantry')
      .setAudience('tenant')
      .setSubject('7')
      .setJti('abc')
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(KEY);
    const verified = verifyHmacJwt(token, KEY, { ...CHECKS, now: now() });
    assert.ok(verified);
    assert.equal(verified.sub, '7');
    assert.equal(verified.jti, 'abc');
    assert.equal(verified.payload.tid, 3);
    assert.equal(verified.payload.role, 'admin');
  });

  it('accepts a hand-made token with the same claims (the refusals below are of one change each)', () => {
    assert.ok(verifyHmacJwt(handMade(HEADER, claims()), KEY, { ...CHECKS, now: now() }));
    assert.ok(verifyHmacJwt(handMade({ alg: 'HS256' }, claims()), KEY, { ...CHECKS, now: now() }), 'no typ');
  });

  const refused: [string, () => string][] = [
    ['another key', () => handMade(HEADER, claims(), 'x'.repeat(48))],
    ['alg none, no signature', () => `${b64({ alg: 'none' })}.${b64(claims())}.`],
    ['alg none, with a signature', () => handMade({ alg: 'none' }, claims())],
    ['another HMAC algorithm in the header', () => handMade({ alg: 'HS512' }, claims())],
    ['a crit extension', () => handMade({ ...HEADER, crit: ['exp'] }, claims())],
    ['a foreign typ', () => handMade({ alg: 'HS256', typ: 'at+jwt+other' }, claims())],
    ['wrong issuer', () => handMade(HEADER, claims({ iss: 'other' }))],
    ['wrong audience', () => handMade(HEADER, claims({ aud: 'core' }))],
    ['audience as an array', () => handMade(HEADER, claims({ aud: ['tenant'] }))],
    ['expired', () => handMade(HEADER, claims({ exp: now() - 1 }))],
    ['expiring now', () => handMade(HEADER, claims({ exp: now() }))],
    ['no exp', () => handMade(HEADER, claims({ exp: undefined }))],
    ['exp as a string', () => handMade(HEADER, claims({ exp: String(now() + 600) }))],
    ['not yet valid (nbf)', () => handMade(HEADER, claims({ nbf: now() + 120 }))],
    ['issued in the future beyond the skew', () => handMade(HEADER, claims({ iat: now() + 3_600 }))],
    ['no iat', () => handMade(HEADER, claims({ iat: undefined }))],
    ['no sub', () => handMade(HEADER, claims({ sub: undefined }))],
    ['numeric sub', () => handMade(HEADER, claims({ sub: 7 }))],
    ['no jti', () => handMade(HEADER, claims({ jti: undefined }))],
    ['a payload that is not an object', () => handMade(HEADER, [1, 2] as unknown as Record<string, unknown>)],
    ['two parts', () => handMade(HEADER, claims()).split('.').slice(0, 2).join('.')],
    ['four parts', () => `${handMade(HEADER, claims())}.x`],
    ['a signature with a foreign character', () => `${handMade(HEADER, claims())}=`],
    [
      'a look-alike signature (other trailing bits)',
      () => {
        const token = handMade(HEADER, claims());
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        // SHA-256 is 32 bytes: 43 base64url characters, the last one carrying 2 unused bits. Flipping one of them
        // gives a string that decodes to the very same bytes.
        const twin = alphabet[alphabet.indexOf(token.at(-1) as string) ^ 1] as string;
        assert.deepEqual(
          Buffer.from(`${token.split('.')[2]?.slice(0, -1)}${twin}`, 'base64url'),
          Buffer.from(token.split('.')[2] as string, 'base64url'),
        );
        return `${token.slice(0, -1)}${twin}`;
      },
    ],
  ];
  for (const [name, make] of refused) {
    it(`refuses ${name}`, () => {
      assert.equal(verifyHmacJwt(make(), KEY, { ...CHECKS, now: now() }), null);
    });
  }

  it('refuses an exp that JSON parses to Infinity', () => {
    const signed = `${b64(HEADER)}.${Buffer.from(
      `{"iss":"tenantry","aud":"tenant","sub":"7","jti":"j","iat":${now()},"exp":1e400}`,
    ).toString('base64url')}`;
    const token = `${signed}.${createHmac('sha256', SECRET).update(signed).digest('base64url')}`;
    assert.equal(verifyHmacJwt(token, KEY, { ...CHECKS, now: now() }), null);
  });

  it('allows an iat within the clock skew', () => {
    const token = handMade(HEADER, claims({ iat: now() + CLOCK_SKEW_SECONDS - 5 }));
    assert.ok(verifyHmacJwt(token, KEY, { ...CHECKS, now: now() }));
  });
});

describe('signHmacJwt', () => {
  for (const algorithm of ['HS256', 'HS384', 'HS512'] as const) {
    it(`signs ${algorithm} tokens that jose verifies, with every claim and the header jose expects`, async () => {
      const t = now();
      const token = signHmacJwt(
        { iss: 'tenantry', aud: 'tenant', sub: '7', jti: 'j-9', iat: t, exp: t + 60, tid: 3, role: 'admin' },
        KEY,
        algorithm,
      );
      const { payload, protectedHeader } = await jwtVerify(token, KEY, {
        algorithms: [algorithm],
        issuer: 'tenantry',
        audience: 'tenant',
        typ: 'JWT',
      });
      assert.deepEqual(protectedHeader, { alg: algorithm, typ: 'JWT' });
      assert.deepEqual(payload, {
        iss: 'tenantry',
        aud: 'tenant',
        sub: '7',
        jti: 'j-9',
        iat: t,
        exp: t + 60,
        tid: 3,
        role: 'admin',
      });
      // Signed with another key, the same claims must not verify.
      const claimsAgain = { iss: 'tenantry', aud: 'tenant', sub: '7', jti: 'j-9', iat: t, exp: t + 60 };
      const other = signHmacJwt(claimsAgain, createSecretKey(Buffer.from('x'.repeat(48))), algorithm);
      await assert.rejects(jwtVerify(other, KEY, { algorithms: [algorithm] }));
    });
  }
});

describe('AccessTokens', () => {
  it('issues tokens it verifies, for their audience only, also once cached', async () => {
    const tokens = new AccessTokens(CONFIG);
    const { access_token } = tokens.issue({
      audience: 'tenant',
      userId: 7,
      tenantId: 3,
      role: 'admin',
    });
    for (let i = 0; i < 2; i++) {
      const principal = tokens.verify(access_token, 'tenant');
      assert.deepEqual(
        { ...principal, jti: 'x' },
        {
          audience: 'tenant',
          userId: 7,
          tenantId: 3,
          role: 'admin',
          jti: 'x',
        },
      );
      // The cache holds the verified token: it must still refuse it for the other audience.
      assert.throws(
        () => tokens.verify(access_token, 'core'),
        (error: unknown) => error instanceof AppError && error.code === 'TOKEN_INVALID',
      );
    }
    const core = tokens.issue({ audience: 'core', userId: 9 });
    assert.equal(tokens.verify(core.access_token, 'core').userId, 9);
    assert.throws(() => tokens.verify(core.access_token, 'tenant'), AppError);
  });

  it('refuses tenant tokens whose ids or role are out of range, and core tokens carrying a tid', () => {
    const tokens = new AccessTokens(CONFIG);
    const bad = [
      claims({ sub: '0' }),
      claims({ sub: '07' }),
      claims({ sub: '2147483648' }),
      claims({ tid: 0 }),
      claims({ tid: '3' }),
      claims({ role: 'root' }),
    ];
    for (const payload of bad) {
      assert.throws(
        () => tokens.verify(handMade(HEADER, payload), 'tenant'),
        AppError,
        JSON.stringify(payload),
      );
    }
    assert.throws(() => tokens.verify(handMade(HEADER, claims({ aud: 'core' })), 'core'), AppError);
  });
});

describe('VerifiedTokenCache', () => {
  it('forgets a token at its expiry and keeps at most its bound, oldest out first', () => {
    const cache = new VerifiedTokenCache<string>(2);
    cache.set('a', 'A', 1_000);
    assert.equal(cache.get('a', 999), 'A');
    assert.equal(cache.get('a', 1_000), undefined, 'expired at exp');
    cache.set('a', 'A', 5_000);
    cache.set('b', 'B', 5_000);
    cache.set('c', 'C', 5_000);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('a', 0), undefined);
    assert.equal(cache.get('c', 0), 'C');
  });
});
