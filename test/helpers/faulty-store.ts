import type { TenantDbHandle, TenantStore } from '../../src/tenancy/stores/tenant-store.js';

/**
 * A TenantStore that delegates to a real one but fails the next `failCreate` creates or `failOpen` opens,
 * to drive the provisioner's failure paths on either engine.
 */
export class FaultyStore implements TenantStore {
  failCreate = 0;
  failOpen = 0;

  constructor(private readonly inner: TenantStore) {}

  get engine(): TenantStore['engine'] {
    return this.inner.engine;
  }

  get server(): TenantStore['server'] {
    return this.inner.server;
  }

  get sharedNames(): TenantStore['sharedNames'] {
    return this.inner.sharedNames;
  }

  sharedDatabaseName(n: number): string {
    return this.inner.sharedDatabaseName(n);
  }

  sharedDatabaseNumber(name: string): number | null {
    return this.inner.sharedDatabaseNumber(name);
  }

  ensureSharedDatabase(name: string): Promise<void> {
    return this.inner.ensureSharedDatabase(name);
  }

  listSharedDatabases(): Promise<string[]> {
    return this.inner.listSharedDatabases();
  }

  prepare(): Promise<void> {
    return this.inner.prepare();
  }

  databaseName(orgId: number): string {
    return this.inner.databaseName(orgId);
  }

  async create(name: string): Promise<void> {
    if (this.failCreate > 0) {
      this.failCreate -= 1;
      throw new Error('injected create failure');
    }
    await this.inner.create(name);
  }

  exists(name: string): Promise<boolean> {
    return this.inner.exists(name);
  }

  drop(name: string): Promise<void> {
    return this.inner.drop(name);
  }

  list(): Promise<string[]> {
    return this.inner.list();
  }

  async open(name: string, options?: { maxConnections?: number }): Promise<TenantDbHandle> {
    if (this.failOpen > 0) {
      this.failOpen -= 1;
      throw new Error('injected open failure');
    }
    return this.inner.open(name, options);
  }

  /** The wrapped store is closed by its owner. */
  async close(): Promise<void> {}
}
