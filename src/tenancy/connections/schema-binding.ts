import type { QueryClient } from './connection-manager.js';
import type { TenantPlacement } from '../placement/placement.js';
import { quoteIdent } from '../placement/placement-names.js';

/**
 * Which tenant each physical connection to a shared database is bound to (its role and search path), so a
 * connection checked out again by the same tenant costs no extra round trip.
 */
const bound = new WeakMap<QueryClient, string>();

/** The role and schema a shared tenant's work runs as. */
export interface SchemaBinding {
  readonly placement: TenantPlacement;
  readonly role: string;
}

/**
 * Binds a connection to a shared tenant before handing it out: `SET ROLE` to the tenant's role (which owns its
 * schema and has no privilege on any other) and `SET search_path` to its schema alone. So unqualified SQL reaches
 * the tenant's tables and nothing else, and SQL naming another tenant's schema fails in PostgreSQL with a
 * permission error. Both are session settings, set on every checkout by a different tenant, with the previous
 * tenant's prepared statements dropped: a connection handed from one tenant to the next never carries the first
 * one's role, path or prepared state. (Transactions are committed or rolled back before a connection is
 * released; temporary tables cannot be made in a shared database at all.)
 */
export async function bindConnection(client: QueryClient, binding: SchemaBinding): Promise<void> {
  const key = binding.placement.key;
  if (bound.get(client) === key) return;
  // Forgotten first: if the statement fails half-way the connection is bound to nothing we know.
  bound.delete(client);
  const schema = binding.placement.schema;
  if (schema === null) throw new TypeError('Only shared placements are bound to a schema');
  // One round trip. DEALLOCATE ALL: a statement the previous tenant prepared (by hand: we never do) is gone.
  await client.query(
    `set role ${quoteIdent(binding.role)}; set search_path to ${quoteIdent(schema)}; deallocate all`,
  );
  bound.set(client, key);
}

/** Forgets what a connection is bound to (after work that may have changed its session settings). */
export function forgetBinding(client: QueryClient): void {
  bound.delete(client);
}
