/**
 * Runs async functions one at a time per key, in call order; different keys run concurrently.
 * A failure does not block the queue: the next function runs either way.
 *
 * @example
 * const mutex = new KeyedMutex();
 * await mutex.run('tenant_42', () => createDatabase('tenant_42'));
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    // Forget idle keys so the map does not grow with every tenant ever touched.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
