import { dedicatedPlacement } from '../../src/tenancy/placement/placement.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { onCleanup, throwIfAborted } from './cleanup.js';

export interface FleetTenant {
  readonly id: number;
  readonly dbName: string;
  /** A tenant access token of the owner (role owner), bound to this tenant. */
  readonly token: string;
}

export interface Fleet {
  readonly tenants: readonly FleetTenant[];
  /** The owner's tenant user id: the same in every tenant database (they are copies of one template). */
  readonly ownerTenantUserId: number;
}

export interface FleetOptions {
  /** The environment the Tenantry server will run with (DATABASE_URL, SECRET_KEY, DATA_DIR, …). */
  env: Record<string, string>;
  count: number;
  /** Provisionings run at once. */
  concurrency?: number;
  progress?: (line: string) => void;
}

/**
 * Builds the app in-process (logging off) only to set up data: one verified owner, `count` organizations
 * provisioned through the real provisioner, and one tenant access token per tenant; then closes the app.
 */
export async function createFleet(options: FleetOptions): Promise<Fleet> {
  const concurrency = options.concurrency ?? 10;
  const progress = options.progress ?? (() => undefined);
  const app = await buildApp(loadConfig(options.env), { logger: false });
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= app.close());
  // On abort the clean-up waits for the provisionings in flight before the databases are dropped, so no
  // tenant database appears after the drop.
  let inFlight: Promise<unknown> = Promise.resolve();
  const unregister = onCleanup('close the set-up app', async () => {
    await inFlight.catch(() => undefined);
    await close();
  });
  try {
    await app.ready();
    const owner = await app.core.db
      .insertInto('core_users')
      .values({ email: 'bench-owner@example.com', password_hash: 'x', is_owner: true, is_verified: true })
      .returning('id')
      .executeTakeFirstOrThrow();

    const started = performance.now();
    const ids: number[] = [];
    let reported = 0;
    for (let i = 0; i < options.count; i += concurrency) {
      throwIfAborted();
      const pending = Promise.all(
        Array.from({ length: Math.min(concurrency, options.count - i) }, async (_, j) => {
          const org = await app.core.db
            .insertInto('organizations')
            .values({ name: `Bench ${i + j}`, slug: `bench-${i + j}`, owner_id: owner.id })
            .returning('id')
            .executeTakeFirstOrThrow();
          await app.services.provisioner.provision(org.id);
          return org.id;
        }),
      );
      inFlight = pending;
      ids.push(...(await pending));
      const step = Math.max(concurrency, Math.ceil(options.count / 10));
      if (ids.length - reported >= step || ids.length === options.count) {
        reported = ids.length;
        const seconds = (performance.now() - started) / 1000;
        progress(
          `  provisioned ${ids.length}/${options.count} tenants in ${seconds.toFixed(1)} s ` +
            `(${(ids.length / seconds).toFixed(0)}/s)`,
        );
      }
    }

    const first = ids[0];
    if (first === undefined) throw new Error('no tenant to benchmark');
    const row = await app.services.tenants
      .handle(dedicatedPlacement(app.services.store.server, app.services.store.databaseName(first)))
      .selectFrom('tenant_users')
      .select('id')
      .where('core_user_id', '=', owner.id)
      .executeTakeFirstOrThrow();

    const tenants = await Promise.all(
      ids.map(async (id) => {
        const { access_token } = await app.services.accessTokens.issue({
          audience: 'tenant',
          userId: row.id,
          tenantId: id,
          role: 'owner',
        });
        return { id, dbName: app.services.store.databaseName(id), token: access_token };
      }),
    );
    return { tenants, ownerTenantUserId: row.id };
  } finally {
    unregister();
    await close();
  }
}
