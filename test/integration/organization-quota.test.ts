import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { call, verifiedCoreUser } from '../helpers/flows.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
before(async () => {
  t = await createTestApp({
    MAX_ORGANIZATIONS_PER_OWNER: '2',
    ORGANIZATION_RATE_LIMIT: '10/hour',
    TRUST_PROXY: 'true',
  });
});
after(() => t.close());

function create(token: string, name: string, headers: Record<string, string> = {}) {
  return call(t.app, 'POST', '/api/organizations', { token, body: { name }, headers });
}

describe('MAX_ORGANIZATIONS_PER_OWNER', () => {
  it('concurrent creations cannot overshoot the quota; the rest are 403 QUOTA_EXCEEDED; deleted ones do not count', async () => {
    const owner = await verifiedCoreUser(t.app, 'quota@example.com', { isOwner: true });
    const token = owner.tokens.access_token;
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => create(token, `Quota ${i}`)));
    const statuses = answers.map((res) => res.statusCode).sort();
    assert.deepEqual(statuses, [201, 201, 403, 403, 403, 403], answers.map((res) => res.body).join('\n'));
    for (const res of answers.filter((r) => r.statusCode === 403))
      assert.equal(res.json<{ code: string }>().code, 'QUOTA_EXCEEDED');
    const live = await t.app.core.db
      .selectFrom('organizations')
      .select('id')
      .where('owner_id', '=', owner.id)
      .where('deleted_at', 'is', null)
      .execute();
    assert.equal(live.length, 2, 'exactly the quota exists');

    // Deleting one makes room for exactly one more.
    const first = answers.find((r) => r.statusCode === 201)?.json<{ id: number }>();
    assert.ok(first);
    const deleted = await call(t.app, 'DELETE', `/api/organizations/${first.id}`, { token });
    assert.equal(deleted.statusCode, 204, deleted.body);
    assert.equal((await create(token, 'Replacement')).statusCode, 201);
    const over = await create(token, 'One too many');
    assert.equal(over.statusCode, 403);
    assert.equal(over.json<{ code: string }>().code, 'QUOTA_EXCEEDED');

    // The quota is per owner: another owner is unaffected.
    const other = await verifiedCoreUser(t.app, 'quota-other@example.com', { isOwner: true });
    assert.equal((await create(other.tokens.access_token, 'Other Org')).statusCode, 201);
  });

  it('defaults to 25 and accepts "off"', () => {
    const base = { NODE_ENV: 'test', SECRET_KEY: 'x'.repeat(32), DATA_DIR: t.config.dataDir };
    assert.equal(loadConfig(base).maxOrganizationsPerOwner, 25);
    assert.equal(loadConfig({ ...base, MAX_ORGANIZATIONS_PER_OWNER: 'off' }).maxOrganizationsPerOwner, null);
    assert.throws(
      () => loadConfig({ ...base, MAX_ORGANIZATIONS_PER_OWNER: 'many' }),
      /MAX_ORGANIZATIONS_PER_OWNER/,
    );
    assert.deepEqual(loadConfig(base).organizationRateLimit, { max: 10, windowMs: 3_600_000 });
  });
});

describe('ORGANIZATION_RATE_LIMIT', () => {
  it('counts creations per account, whatever address they come from', async () => {
    // A verified non-owner: every attempt is counted, then refused (403 NOT_OWNER) without building anything.
    const user = await verifiedCoreUser(t.app, 'eager@example.com');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await create(user.tokens.access_token, `Eager ${i}`, {
        'x-forwarded-for': `10.9.0.${i + 1}`,
      });
      statuses.push(res.statusCode);
    }
    assert.deepEqual(statuses, [...Array<number>(10).fill(403), 429, 429]);
    const limited = await create(user.tokens.access_token, 'Again');
    assert.equal(limited.json<{ code: string }>().code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // Another account from the same address is not limited by it.
    const other = await verifiedCoreUser(t.app, 'patient@example.com');
    assert.equal((await create(other.tokens.access_token, 'Patient')).statusCode, 403);
  });
});
