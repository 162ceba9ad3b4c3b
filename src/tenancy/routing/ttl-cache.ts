import { LRUCache } from 'lru-cache';

interface CacheEntry<T> {
  value: T;
}

/**
 * A bounded map with a TTL per entry, on lru-cache: beyond `max` entries the least recently used one is dropped;
 * an entry older than `ttlMs` is gone (TTL 0: nothing is cached). Values may be null (the resolver caches misses):
 * they are wrapped, since lru-cache stores no null.
 *
 * @example
 * const cache = new TtlCache<number>(5_000, 1_000);
 * cache.set('a', 1);
 * cache.get('a')?.value; // 1, for 5 s
 */
export class TtlCache<T> {
  private readonly entries: LRUCache<string, CacheEntry<T>> | null;

  /** `now`: a clock in milliseconds for tests (read on every access); lru-cache's own otherwise. */
  constructor(ttlMs: number, max: number, now?: () => number) {
    // lru-cache reads ttl 0 as "never expires": a TTL of 0 must mean "do not cache", as TENANT_CACHE_TTL_MS=0 says.
    this.entries =
      ttlMs > 0
        ? new LRUCache<string, CacheEntry<T>>({
            max,
            ttl: ttlMs,
            ...(now ? { perf: { now }, ttlResolution: 0 } : {}),
          })
        : null;
  }

  /** The live entry (an entry whose value may itself be null or undefined), or undefined. */
  get(key: string): CacheEntry<T> | undefined {
    return this.entries?.get(key);
  }

  set(key: string, value: T): void {
    this.entries?.set(key, { value });
  }

  delete(key: string): void {
    this.entries?.delete(key);
  }

  /** Deletes every entry whose value matches. */
  deleteWhere(match: (key: string, value: T) => boolean): void {
    if (!this.entries) return;
    const doomed: string[] = [];
    for (const [key, entry] of this.entries.entries()) if (match(key, entry.value)) doomed.push(key);
    for (const key of doomed) this.entries.delete(key);
  }

  clear(): void {
    this.entries?.clear();
  }
}

export interface TenantResolverOptions {
  /** How long a lookup is trusted; invalidation makes changes in this process visible at once. */
  ttlMs?: number;
  /** Most cached lookups; the oldest are dropped beyond it. */
  maxEntries?: number;
}
