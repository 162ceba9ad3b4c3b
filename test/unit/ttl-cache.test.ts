import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TtlCache } from '../../src/tenancy/routing/ttl-cache.js';

// A clock the test moves by hand: expiry is checked without waiting.
function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('TtlCache', () => {
  it('keeps an entry, null values included, until its TTL has passed', () => {
    const time = clock();
    const cache = new TtlCache<string | null>(5_000, 10, time.now);
    cache.set('a', 'A');
    cache.set('miss', null);
    assert.equal(cache.get('a')?.value, 'A');
    assert.deepEqual(cache.get('miss'), { value: null }, 'a cached null is an entry, not a miss');
    assert.equal(cache.get('b'), undefined);
    time.advance(4_999);
    assert.equal(cache.get('a')?.value, 'A');
    time.advance(2);
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.get('miss'), undefined);
  });

  it('restarts the TTL when an entry is written again', () => {
    const time = clock();
    const cache = new TtlCache<number>(1_000, 10, time.now);
    cache.set('a', 1);
    time.advance(900);
    cache.set('a', 2);
    time.advance(900);
    assert.equal(cache.get('a')?.value, 2);
  });

  it('caches nothing with a TTL of 0 (TENANT_CACHE_TTL_MS=0)', () => {
    const cache = new TtlCache<number>(0, 10);
    cache.set('a', 1);
    assert.equal(cache.get('a'), undefined);
  });

  it('drops the least recently used entry beyond max', () => {
    const cache = new TtlCache<number>(60_000, 2);
    cache.set('a', 1);
    cache.set('b', 2);
    assert.equal(cache.get('a')?.value, 1); // a is now more recently used than b
    cache.set('c', 3);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a')?.value, 1);
    assert.equal(cache.get('c')?.value, 3);
  });

  it('deletes by key, by predicate, and all', () => {
    const cache = new TtlCache<{ id: number }>(60_000, 10);
    cache.set('id:1', { id: 1 });
    cache.set('slug:one', { id: 1 });
    cache.set('slug:two', { id: 2 });
    cache.deleteWhere((_key, value) => value.id === 1);
    assert.equal(cache.get('id:1'), undefined);
    assert.equal(cache.get('slug:one'), undefined);
    assert.equal(cache.get('slug:two')?.value.id, 2);
    cache.delete('slug:two');
    assert.equal(cache.get('slug:two'), undefined);
    cache.set('x', { id: 3 });
    cache.clear();
    assert.equal(cache.get('x'), undefined);
  });
});
