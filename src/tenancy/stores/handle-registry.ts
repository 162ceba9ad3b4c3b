import type { Kysely } from 'kysely';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import type { TenantDbHandle } from './tenant-store.js';

/**
 * The handles a store has opened, per database, so that `drop()` can close the ones on a database before
 * dropping it and `close()` can close them all. Handles remove themselves when closed.
 */
export class HandleRegistry {
  private readonly open = new Map<string, Set<TenantDbHandle>>();

  /** Wraps an opened database into a handle whose `close()` runs `release` once and forgets the handle. */
  track(name: string, db: Kysely<TenantDatabase>, release: () => Promise<void>): TenantDbHandle {
    let closing: Promise<void> | undefined;
    const handle: TenantDbHandle = {
      db,
      close: () => {
        closing ??= release().finally(() => {
          const handles = this.open.get(name);
          handles?.delete(handle);
          if (handles?.size === 0) this.open.delete(name);
        });
        return closing;
      },
    };
    const handles = this.open.get(name) ?? new Set<TenantDbHandle>();
    handles.add(handle);
    this.open.set(name, handles);
    return handle;
  }

  /** True while a handle on `name` is open. */
  has(name: string): boolean {
    return this.open.has(name);
  }

  /** Closes every handle on one database; failures are ignored (the database is going away). */
  async closeAll(name: string): Promise<void> {
    const handles = [...(this.open.get(name) ?? [])];
    await Promise.allSettled(handles.map((handle) => handle.close()));
  }

  /** Closes every handle on every database. */
  async closeEverything(): Promise<void> {
    await Promise.allSettled([...this.open.keys()].map((name) => this.closeAll(name)));
  }
}
