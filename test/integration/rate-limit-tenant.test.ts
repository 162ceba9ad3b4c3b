import { OrganizationsRepository } from '../../src/modules/organizations/organizations.repository.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import { TenantResolver } from '../../src/tenancy/routing/tenant-resolver.js';
import { createTenancyFixture, insertOrganization } from '../helpers/core-fixtures.js';
import { call } from '../helpers/flows.js';
import { createTestApp } from '../helpers/test-app.js';

/** Status counts of a series of answers, e.g. {404: 100, 429: 20}. */
function tally(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

describe('rate limits count requests whatever X-TENANT resolves to', () => {
  it('120 requests from one client with unknown, malformed or refused X-TENANT values reach 429 past RATE_LIMIT', async () => {
    const t = await createTestApp({ RATE_LIMIT: '100/minute', AUTH_RATE_LIMIT: 'off' });
    try {
      const unknown: number[] = [];
      for (let i = 0; i < 120; i++)
        unknown.push((await call(t.app, 'GET', '/api/users/me', { tenant: `nosuch${i}` })).statusCode);
      assert.deepEqual(tally(unknown), { 404: 100, 429: 20 });
      assert.equal(unknown[100], 429, 'the 101st request is the first refused');

      // The same client stays limited whatever the header says next: malformed, or refused on a core route.
      for (const [url, tenant] of [
        ['/api/users/me', 'Not_A_Slug'],
        ['/api/users/me', '042'],
        ['/api/organizations', 'anything'],
        ['/api/users/me', 'nosuch0'],
      ] as const) {
        const res = await call(t.app, 'GET', url, { tenant });
        assert.equal(res.statusCode, 429, `${url} X-TENANT ${tenant}: ${res.body}`);
        assert.ok(Number(res.headers['retry-after']) > 0);
      }
    } finally {
      await t.close();
    }
  });

  it('malformed values alone are counted too', async () => {
    const t = await createTestApp({ RATE_LIMIT: '10/minute', AUTH_RATE_LIMIT: 'off' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++)
        statuses.push((await call(t.app, 'GET', '/api/users/me', { tenant: `Bad_${i}` })).statusCode);
      assert.deepEqual(tally(statuses), { 400: 10, 429: 2 });
    } finally {
      await t.close();
    }
  });

  it('logins to unknown tenants count against AUTH_RATE_LIMIT', async () => {
    const t = await createTestApp({ RATE_LIMIT: 'off', AUTH_RATE_LIMIT: '5/minute' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) {
        const res = await call(t.app, 'POST', '/api/auth/login', {
          tenant: i % 2 === 0 ? `nosuch${i}` : `Bad_${i}`,
          body: { email: 'x@example.com', password: 'whatever' },
        });
        statuses.push(res.statusCode);
      }
      assert.deepEqual(statuses.slice(5), [429, 429]);
      assert.ok(statuses.slice(0, 5).every((status) => status === 404 || status === 400));
    } finally {
      await t.close();
    }
  });
});

describe('unknown X-TENANT values are cached briefly, apart from known tenants', () => {
  it('repeats of one unknown value cost one core query; a flood of them evicts no known tenant; invalidation forgets a miss', async () => {
    const fx = await createTenancyFixture();
    try {
      let queries = 0;
      const counting: KyselyPlugin = {
        transformQuery: (args) => {
          queries += 1;
          return args.node;
        },
        transformResult: async (args) => args.result,
      };
      const resolver = new TenantResolver(new OrganizationsRepository(fx.core.db.withPlugin(counting)), {
        ttlMs: 60_000,
        maxEntries: 3,
        server: fx.store.server,
      });
      const known = await insertOrganization(fx.core.db, { status: 'active' });
      assert.equal((await resolver.lookup({ kind: 'slug', slug: known.slug }))?.status, 'active');

      queries = 0;
      for (let i = 0; i < 5; i++)
        assert.equal(await resolver.lookup({ kind: 'slug', slug: 'nosuch-a' }), null);
      assert.equal(queries, 1, 'one query for five lookups of the same unknown slug');

      // The known tenant changes behind the cache's back; a flood of unknown values must not evict it (it still
      // answers from the cache, without a query).
      await fx.core.db
        .updateTable('organizations')
        .set({ status: 'suspended' })
        .where('id', '=', known.id)
        .execute();
      for (let i = 0; i < 20; i++) await resolver.lookup({ kind: 'slug', slug: `flood-${i}` });
      queries = 0;
      assert.equal((await resolver.lookup({ kind: 'slug', slug: known.slug }))?.status, 'active');
      assert.equal(queries, 0, 'the known tenant was still cached');

      // A cached miss disappears when an organization takes that slug (the service invalidates on create).
      assert.equal(await resolver.lookup({ kind: 'slug', slug: 'later-org' }), null);
      const later = await insertOrganization(fx.core.db, { slug: 'later-org', status: 'active' });
      assert.equal(await resolver.lookup({ kind: 'slug', slug: 'later-org' }), null, 'still the cached miss');
      resolver.invalidate(later.id, later.slug);
      assert.equal((await resolver.lookup({ kind: 'slug', slug: 'later-org' }))?.id, later.id);
      assert.equal(await resolver.lookup({ kind: 'id', id: 999_999 }), null);
    } finally {
      await fx.close();
    }
  });
});
