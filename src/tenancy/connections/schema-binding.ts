import type { QueryClient } from './connection-manager.js';
import type { TenantPlacement } from '../placement/placement.js';
import { quoteIdent } from '../placement/placement-names.js';

/**
 * Which tenant each physical connection to a shared database is bound to (its role and search path), so a
 * connection checked out again by the same tenant costs no extra round trip.
 */
const bound = new WeakMap<QueryClient, string>();

/**
 * A generation per tenant schema name, raised when that tenant's schema and role may have been dropped and made
 * again (a move away and back): `SET ROLE` pins the role's identity, so a connection bound before must be bound
 * again. Raised for every invalidation of the organization (tenant-gateway.ts), in every process.
 */
const generations = new Map<string, number>();

/** Connections bound to this tenant schema (in any shared database) bind again on their next checkout. */
export function forgetBindings(schema: string): void {
  generations.set(schema, (generations.get(schema) ?? 0) + 1);
}

function bindingKey(binding: SchemaBinding): string {
  const schema = binding.placement.schema ?? '';
  return `${binding.placement.key}#${generations.get(schema) ?? 0}`;
}

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
  if (isBound(client, binding)) return;
  // Forgotten first: if the statement fails half-way the connection is bound to nothing we know.
  bound.delete(client);
  await client.query(bindingSql(binding));
  bound.set(client, bindingKey(binding));
}

/** Whether the connection is bound to this tenant already. */
export function isBound(client: QueryClient, binding: SchemaBinding): boolean {
  return bound.get(client) === bindingKey(binding);
}

/** The statements that bind a connection. DEALLOCATE ALL: whatever the previous tenant prepared (shared connections never prepare) is gone. */
function bindingSql(binding: SchemaBinding): string {
  const schema = binding.placement.schema;
  if (schema === null) throw new TypeError('Only shared placements are bound to a schema');
  return `set role ${quoteIdent(binding.role)}; set search_path to ${quoteIdent(schema)}; deallocate all`;
}

/**
 * A single SELECT with no string literal (quoted or dollar-quoted) and no other statement: its integer parameters
 * can be written in.
 */
const INLINABLE_SELECT = /^\s*select\s[^';]*$/i;

/**
 * The query with its parameters written in when they are all integers (or null) and it is a lone SELECT with no
 * string literal; null otherwise. Integers written as decimal digits cannot change what a query means.
 */
function inlineIntegers(text: string, values: readonly unknown[]): string | null {
  if (!INLINABLE_SELECT.test(text) || text.includes('$$')) return null;
  for (const value of values) {
    if (value !== null && !(typeof value === 'number' && Number.isSafeInteger(value))) return null;
  }
  let complete = true;
  const inlined = text.replace(/\$(\d+)/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index >= values.length) complete = false;
    const value = values[index] as number | null | undefined;
    return value === null || value === undefined ? 'null' : String(value);
  });
  return complete ? inlined : null;
}

/**
 * Runs the first query of a checkout on a connection that may be bound to another tenant, binding it first, in one
 * round trip when it can: a lone SELECT with integer parameters (the principal read of every authenticated request)
 * is sent after the binding statements in the same message. PostgreSQL runs such a message as one implicit
 * transaction, so if the SELECT fails the binding is undone too, and the connection is then bound to nothing we
 * know (the next checkout binds it again). Anything else binds in a round trip of its own first.
 */
export async function queryBinding(
  client: QueryClient,
  binding: SchemaBinding,
  text: unknown,
  values: unknown,
): Promise<unknown> {
  const inlined =
    typeof text === 'string' && Array.isArray(values) && !isBound(client, binding)
      ? inlineIntegers(text, values)
      : null;
  if (inlined === null) {
    await bindConnection(client, binding);
    return client.query(text, values);
  }
  bound.delete(client);
  const results = (await client.query(`${bindingSql(binding)}; ${inlined}`)) as unknown[];
  bound.set(client, bindingKey(binding));
  return results[results.length - 1];
}

/** Forgets what a connection is bound to (after work that may have changed its session settings). */
export function forgetBinding(client: QueryClient): void {
  bound.delete(client);
}
