import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.js';
import type { ServerAddress } from '../../src/tenancy/placement/placement.js';
import { pickServer } from '../../src/tenancy/servers/placement-policy.js';
import { parseServerUrl, redactUrl, ServerUrlError } from '../../src/tenancy/servers/server-url.js';
import type { TenantServer } from '../../src/tenancy/servers/tenant-server.js';

function server(name: string, weight = 1, state: TenantServer['state'] = 'active'): TenantServer {
  return {
    name,
    address: `postgres://${name}:5432` as ServerAddress,
    url: `postgres://app:pw@${name}:5432/postgres`,
    weight,
    state,
    createdAt: new Date(0),
  };
}

/** Places `n` tenants one after the other, as provisioning does; returns the names chosen, in order. */
function placeMany(servers: TenantServer[], n: number, fallback = servers[0]?.address as ServerAddress) {
  const counts = new Map<string | null, number>();
  const chosen: string[] = [];
  for (let i = 0; i < n; i++) {
    const picked = pickServer(servers, counts, fallback);
    counts.set(picked.address, (counts.get(picked.address) ?? 0) + 1);
    chosen.push(picked.name);
  }
  return chosen;
}

describe('placement policy', () => {
  it('goes to the fewest tenants per weight, ties by name', () => {
    const chosen = placeMany([server('default'), server('b', 2), server('a')], 8);
    assert.deepEqual(chosen, ['a', 'b', 'default', 'b', 'a', 'b', 'default', 'b']);
  });

  it('skips draining servers, and refuses with a 503 when all drain', () => {
    assert.deepEqual(placeMany([server('a', 1, 'draining'), server('b')], 3), ['b', 'b', 'b']);
    assert.throws(
      () => pickServer([server('a', 1, 'draining')], new Map(), server('a').address),
      (error: unknown) => error instanceof AppError && error.statusCode === 503,
    );
  });

  it('counts rows recorded before servers (null) on the configured server', () => {
    const d = server('default');
    const picked = pickServer([d, server('z')], new Map([[null, 3]]), d.address);
    assert.equal(picked.name, 'z');
  });
});

describe('server URLs', () => {
  it('redacts the password, wherever it is', () => {
    assert.equal(
      redactUrl('postgres://app:s3cret@db1:5432/postgres'),
      'postgres://app:***@db1:5432/postgres',
    );
    assert.equal(
      redactUrl('postgres://app@db1/postgres?password=s3cret&sslmode=require'),
      'postgres://app@db1/postgres?password=***&sslmode=require',
    );
    assert.equal(redactUrl('not a url s3cret'), '<invalid URL>');
  });

  it('accepts a server URL, to the maintenance database, and records host:port only', () => {
    const parsed = parseServerUrl('postgresql://app:s3cret@db1:6543');
    assert.equal(parsed.address, 'postgres://db1:6543');
    assert.equal(parsed.redacted, 'postgresql://app:***@db1:6543/postgres');
    assert.ok(parsed.url.includes('s3cret'));
  });

  it('refuses bad URLs without repeating the password', () => {
    for (const bad of [
      'http://app:s3cret@db1:5432/postgres',
      'postgres://app:s3cret@db1:5432/tenants',
      'postgres://app:s3cret@:5432',
      'app:s3cret',
    ]) {
      assert.throws(
        () => parseServerUrl(bad),
        (error: unknown) => error instanceof ServerUrlError && !error.message.includes('s3cret'),
        bad,
      );
    }
  });
});
