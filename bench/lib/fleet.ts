import { buildApp } from '../../src/app.js';
import type { PlacementKind } from '../../src/db/core-schema.js';
import { placementFromRow, type TenantPlacement } from '../../src/tenancy/placement/placement.js';
import { loadConfig } from '../../src/config.js';
import { onCleanup, throwIfAborted } from './cleanup.js';

export interface FleetTenant {
  readonly id: number;
  /** The tenant's database (a shared one for a shared tenant). */
  readonly dbName: string;
  readonly placement: TenantPlacement;
  /** A tenant access token of the owner (role owner), bound to this tenant. */
  readonly token: string;
}

export interface Fleet {
  readonly tenants: readonly FleetTenant[];
  /** The owner's tenant user id: the same in every tenant (each starts empty and gets its owner first). */
  readonly ownerTenantUserId: number;
}

export interface FleetOptions {
  /** The environment the Tenantry server will run with (DATABASE_URL, SECRET_KEY, DATA_DIR, …). */
  env: Record<string, string>;
  count: number;
  /** Provisionings run at once. */
  concurrency?: number;
  /** The placement of the i-th tenant (default: all dedicated). */
  kind?: (index: number) => PlacementKind;
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
            .values({
              name: `Bench ${i + j}`,
              slug: `bench-${i + j}`,
              owner_id: owner.id,
              placement_kind: options.kind?.(i + j) ?? 'dedicated',
            })
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
    const placements = new Map<number, TenantPlacement>();
    for (const id of ids) {
      const org = await app.services.organizationRows.findById(id);
      const placement = org && placementFromRow(org, app.services.store.server);
      if (!placement) throw new Error(`tenant ${id} has no placement`);
      placements.set(id, placement);
    }
    const row = await app.services.tenants
      .handle(placements.get(first) as TenantPlacement)
      .selectFrom('tenant_users')
      .select('id')
      .where('core_user_id', '=', owner.id)
      .executeTakeFirstOrThrow();

    const tenants = ids.map((id) => {
      const { access_token } = app.services.accessTokens.issue({
        audience: 'tenant',
        userId: row.id,
        tenantId: id,
        role: 'owner',
      });
      const placement = placements.get(id) as TenantPlacement;
      return { id, dbName: placement.address.database, placement, token: access_token };
    });
    return { tenants, ownerTenantUserId: row.id };
  } finally {
    unregister();
    await close();
  }
}
