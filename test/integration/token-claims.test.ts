import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { call, ownerWithOrganization, verifiedCoreUser } from '../helpers/flows.js';
import { resigned } from '../helpers/forged-tokens.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(() => t.close());

const now = () => Math.floor(Date.now() / 1000);

async function expectRefused(token: string, tenant?: number): Promise<void> {
  const res = await call(t.app, 'GET', '/api/users/me', { token, ...(tenant ? { tenant } : {}) });
  assert.equal(res.statusCode, 401, res.body);
  assert.equal(res.json<{ code: string }>().code, 'TOKEN_INVALID');
}

describe('access token claims the signature check leaves open', () => {
  it('a correctly signed token issued in the future (beyond 60 s of skew) is 401 TOKEN_INVALID', async () => {
    const { tokens } = await verifiedCoreUser(t.app, 'future@example.com');
    const key = t.config.secretKey;
    // Within the skew: still accepted (clocks of several servers drift a little).
    const skewed = await resigned(tokens.access_token, key, {
      changes: { iat: now() + 30, jti: randomUUID() },
    });
    assert.equal((await call(t.app, 'GET', '/api/users/me', { token: skewed })).statusCode, 200);
    const future = await resigned(tokens.access_token, key, {
      changes: { iat: now() + 3600, exp: now() + 7200, jti: randomUUID() },
    });
    await expectRefused(future);
  });

  it('a correctly signed token whose aud is an array (even one holding the right audience) is 401', async () => {
    const { tokens } = await verifiedCoreUser(t.app, 'array-aud@example.com');
    const key = t.config.secretKey;
    await expectRefused(await resigned(tokens.access_token, key, { changes: { aud: ['core'] } }));
    await expectRefused(await resigned(tokens.access_token, key, { changes: { aud: ['core', 'tenant'] } }));

    const { org, tenantTokens } = await ownerWithOrganization(t.app, 'aud-owner@example.com', 'Aud Org');
    assert.equal(
      (await call(t.app, 'GET', '/api/users/me', { token: tenantTokens.access_token, tenant: org.id }))
        .statusCode,
      200,
    );
    const tenantArray = await resigned(tenantTokens.access_token, key, {
      changes: { aud: ['tenant', 'core'] },
    });
    await expectRefused(tenantArray, org.id);
    // And the array form cannot smuggle a tenant token into the core either.
    await expectRefused(tenantArray);
  });
});
