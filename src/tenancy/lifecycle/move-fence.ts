import { sql, type Kysely } from 'kysely';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import { tenantTables } from './tenant-copy.js';

const FENCE = 'tenantry_move_fence';

/**
 * Seals a tenant's copy against writes while it is moved: a trigger on every table that refuses any insert,
 * update, delete or truncate. Creating a trigger waits for the writes in flight to commit (it takes a lock they
 * hold), so once `seal` returns every write that will ever succeed on this copy already has. The seal is stored
 * with the data: a crash cannot lift it, and a request in another process that resolved the tenant before it
 * was frozen fails (SQLSTATE 57P03: answered 503 with Retry-After) instead of writing into a copy about to be
 * dropped. `unseal` (a move rolled back) removes it.
 */
export async function seal(db: Kysely<TenantDatabase>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`create or replace function ${sql.id(FENCE)}() returns trigger language plpgsql as $$
      begin
        raise exception using errcode = '57P03', message = 'this tenant is being moved: try again shortly';
      end $$`.execute(trx);
    for (const table of await tenantTables(trx)) {
      await sql`drop trigger if exists ${sql.id(FENCE)} on ${sql.table(table.name)}`.execute(trx);
      await sql`create trigger ${sql.id(FENCE)} before insert or update or delete or truncate
                on ${sql.table(table.name)} for each statement execute function ${sql.id(FENCE)}()`.execute(
        trx,
      );
    }
  });
}

/** Lifts `seal`; idempotent. */
export async function unseal(db: Kysely<TenantDatabase>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const table of await tenantTables(trx)) {
      await sql`drop trigger if exists ${sql.id(FENCE)} on ${sql.table(table.name)}`.execute(trx);
    }
    await sql`drop function if exists ${sql.id(FENCE)}()`.execute(trx);
  });
}
