/**
 * Remembers tokens that passed verification until they expire, so a client sending the same access token on
 * every request pays for the signature check once. Keyed by the whole token (signature included), so only a
 * byte-identical copy of a verified token can hit; bounded, oldest first out. It caches the token's claims, never
 * the user: who the user is, and whether they are still active, is read on every request.
 *
 * @example
 * const cache = new VerifiedTokenCache<Principal>(10_000);
 * cache.set(token, principal, claims.exp * 1000);
 * cache.get(token, Date.now()); // principal, until exp
 */
export class VerifiedTokenCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAtMs: number }>();

  constructor(private readonly maxEntries: number) {}

  get(token: string, nowMs: number): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.value;
  }

  set(token: string, value: T, expiresAtMs: number): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(token);
    this.entries.set(token, { value, expiresAtMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
