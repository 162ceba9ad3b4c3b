import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import type { ConnectionLease, QueryClient, TenantConnectionManager } from './connection-manager.js';
import type { TenantPlacement } from '../placement/placement.js';
import { isBound, queryBinding, type SchemaBinding } from './schema-binding.js';
import type { SharedTenantNames } from '../placement/placement-names.js';
import { sqlState } from '../../errors.js';
import { movedAway } from './moved-away.js';
import { preparingQuery } from './preparing-query.js';

/**
 * What a shared tenant's query meets once its schema and role are dropped (a request that resolved the tenant
 * before it moved away, or was deleted): its schema (3F000) or its tables (42P01) are gone, and binding a
 * connection fails on SET ROLE (22023, "role does not exist", which only binding is told apart by). The next
 * try resolves the tenant afresh (its new copy, or 404), so these answer 503 + Retry-After.
 */
const SCHEMA_GONE = new Set(['3F000', '42P01']);
const ROLE_GONE = '22023';

function schemaGone(error: unknown): never {
  const state = sqlState(error);
  if (state !== undefined && SCHEMA_GONE.has(state)) throw movedAway(error);
  throw error;
}

function bindingFailed(error: unknown): never {
  if (sqlState(error) === ROLE_GONE) throw movedAway(error);
  return schemaGone(error);
}

/** What Kysely's PostgresDialect gets from a checkout: one per physical connection, the current lease inside. */
interface ManagedClient {
  query: QueryClient['query'];
  release(): void;
  lease: ConnectionLease | null;
  /** This checkout's connection is not bound to the tenant yet: its first query binds it. */
  unbound: boolean;
}

/**
 * A Kysely "pool" whose every checkout goes through the connection manager, so each query (or transaction)
 * holds a budgeted connection only while it runs. A physical connection always comes back as the same client
 * object: Kysely keys its connection wrappers by that object, and would otherwise make a new one per query.
 * A shared tenant's checkout is bound to its role and schema by its first query (connections/schema-binding.ts);
 * a dedicated tenant's connection runs the registered hot statements prepared (connections/preparing-query.ts).
 */
function managedPool(
  manager: TenantConnectionManager,
  placement: TenantPlacement,
  binding: SchemaBinding | null,
): PostgresPool {
  const clients = new WeakMap<QueryClient, ManagedClient>();
  return {
    async connect() {
      const lease = await manager.acquire(placement.address);
      let client = clients.get(lease.client);
      if (!client) {
        const raw = lease.client;
        const plain = raw.query.bind(raw);
        const managed: ManagedClient = {
          // A checkout whose connection is bound to another tenant binds it with its first query (see
          // schema-binding.ts): in the same round trip when that query allows it.
          query: binding
            ? (text: unknown, values?: unknown) =>
                managed.unbound
                  ? ((managed.unbound = false), queryBinding(raw, binding, text, values).catch(bindingFailed))
                  : plain(text, values).catch(schemaGone)
            : preparingQuery(raw),
          lease: null,
          unbound: false,
          release() {
            const current = managed.lease;
            managed.lease = null;
            current?.release();
          },
        };
        clients.set(lease.client, managed);
        client = managed;
      }
      client.lease = lease;
      if (binding) client.unbound = !isBound(lease.client, binding);
      return client as unknown as Awaited<ReturnType<PostgresPool['connect']>>;
    },
    async end() {
      // Connections belong to the manager; nothing to end here.
    },
  };
}

/**
 * A Kysely handle on one tenant's tables through the connection manager: its database, or for a shared tenant its
 * schema, every checkout bound to the tenant's role so that no other tenant's schema can be read or written.
 */
export function openTenantHandle(
  manager: TenantConnectionManager,
  placement: TenantPlacement,
  sharedNames: SharedTenantNames,
): Kysely<TenantDatabase> {
  const binding =
    placement.schema === null ? null : { placement, role: sharedNames.roleForSchema(placement.schema) };
  return new Kysely<TenantDatabase>({
    dialect: new PostgresDialect({ pool: managedPool(manager, placement, binding) }),
  });
}
