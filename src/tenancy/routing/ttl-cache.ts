interface CacheEntry<T> {
  value: T;
  expiresAt: number;
}

/**
 * A bounded map with a TTL per entry; beyond `max` entries the least recently written one is dropped.
 *
 * @example
 * const cache = new TtlCache<number>(5_000, 1_000);
 * cache.set('a', 1);
 * cache.get('a')?.value; // 1, for 5 s
 */
export class TtlCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  /** The live entry (an entry whose value may itself be null or undefined), or undefined. */
  get(key: string): CacheEntry<T> | undefined {
    const entry = this.entries.get(key);
    return entry && entry.expiresAt > Date.now() ? entry : undefined;
  }

  set(key: string, value: T): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: Date.now() + this.ttlMs });
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Deletes every entry whose value matches. */
  deleteWhere(match: (key: string, value: T) => boolean): void {
    for (const [key, entry] of this.entries) if (match(key, entry.value)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

export interface TenantResolverOptions {
  /** How long a lookup is trusted; invalidation makes changes in this process visible at once. */
  ttlMs?: number;
  /** Most cached lookups; the oldest are dropped beyond it. */
  maxEntries?: number;
}
