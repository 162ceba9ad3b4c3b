import { sql, type Kysely } from 'kysely';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import { TENANT_MIGRATION_TABLE } from '../fleet/tenant-migrations.js';

/**
 * Copying a tenant's rows between placements and engines: what moves, exports and imports share.
 *
 * Rows travel as PostgreSQL renders them (`to_jsonb(row)`) and are read back by PostgreSQL
 * (`jsonb_populate_recordset`), so every value's text form is the engine's own and both engines (PostgreSQL and
 * PGlite, same major version) read what the other wrote; no value is formatted by our code. (`COPY … TO STDOUT`
 * would be the other established route, but connections handed out by the connection manager — a `pg.Client`,
 * or PGlite's node-postgres adapter — carry no COPY stream on the embedded engine.) Sequences travel as
 * `last_value`/`is_called`, so new rows never collide with copied ones.
 *
 * Everything runs through a tenant handle: unqualified names reach the tenant's own tables (its database's
 * `public`, or its schema in a shared database), never another tenant's.
 */

/** One table of a tenant: its name and the columns copied (generated columns are left to the target). */
export interface TableShape {
  readonly name: string;
  readonly columns: readonly string[];
}

/** A sequence's state: `setval(name, lastValue, isCalled)` reproduces it. */
export interface SequenceState {
  readonly name: string;
  readonly lastValue: string;
  readonly isCalled: boolean;
}

/** A row as PostgreSQL renders it to JSON. */
export type JsonRow = Record<string, unknown>;

/** Rows per round trip. */
export const COPY_BATCH_ROWS = 2_000;

type Db = Kysely<TenantDatabase> | Kysely<unknown>;

/** True for the tenant migrations' own bookkeeping: the target has its own, made by running the migrations. */
function isBookkeeping(table: string): boolean {
  return table.startsWith(TENANT_MIGRATION_TABLE);
}

/**
 * The tenant's tables, referenced ones before those referencing them (so rows load in that order), with their
 * columns in table order.
 */
export async function tenantTables(db: Db): Promise<TableShape[]> {
  const { rows } = await sql<{ table: string; columns: string[] }>`
    select c.relname as table,
           array_agg(a.attname::text order by a.attnum) as columns
      from pg_class c
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
     where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p')
     group by c.relname
     order by c.relname`.execute(db);
  const { rows: references } = await sql<{ from: string; to: string }>`
    select c.conrelid::regclass::text as from, c.confrelid::regclass::text as to
      from pg_constraint c
     where c.contype = 'f' and c.connamespace = current_schema()::regnamespace`.execute(db);
  const tables = rows.filter((row) => !isBookkeeping(row.table));
  const ordered: TableShape[] = [];
  const placed = new Set<string>();
  const unqualified = (name: string) => name.replace(/^.*\./, '').replace(/^"|"$/g, '');
  while (ordered.length < tables.length) {
    const next = tables.find(
      (t) =>
        !placed.has(t.table) &&
        references.every(
          (r) =>
            unqualified(r.from) !== t.table || unqualified(r.to) === t.table || placed.has(unqualified(r.to)),
        ),
    );
    // A reference cycle between tables: keep the remaining ones in name order (none in our schema).
    const table = next ?? tables.find((t) => !placed.has(t.table));
    if (!table) break;
    placed.add(table.table);
    ordered.push({ name: table.table, columns: table.columns });
  }
  return ordered;
}

/** The table's rows as JSON, in physical order, `COPY_BATCH_ROWS` at a time (keyset on ctid: no OFFSET scans). */
export async function* readRows(db: Db, table: TableShape): AsyncGenerator<JsonRow[]> {
  let after = '(0,0)';
  for (;;) {
    const { rows } = await sql<{ ctid: string; row: JsonRow }>`
      select t.ctid::text as ctid, to_jsonb(t) as row from ${sql.table(table.name)} t
       where t.ctid > ${after}::tid order by t.ctid limit ${COPY_BATCH_ROWS}`.execute(db);
    if (rows.length === 0) return;
    yield rows.map((r) => r.row);
    after = (rows[rows.length - 1] as { ctid: string }).ctid;
    if (rows.length < COPY_BATCH_ROWS) return;
  }
}

/** Inserts rows rendered by `readRows` (ids and identity values kept as they were). */
export async function writeRows(db: Db, table: TableShape, rows: readonly JsonRow[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = sql.join(table.columns.map((c) => sql.id(c)));
  await sql`insert into ${sql.table(table.name)} (${columns}) overriding system value
            select ${columns} from jsonb_populate_recordset(null::${sql.table(table.name)}, ${JSON.stringify(rows)}::jsonb)`.execute(
    db,
  );
}

/** Empties the tables (all at once: references between them do not stand in the way). */
export async function clearTables(db: Db, tables: readonly TableShape[]): Promise<void> {
  if (tables.length === 0) return;
  await sql`truncate ${sql.join(tables.map((t) => sql.table(t.name)))}`.execute(db);
}

/** The state of every sequence of the tenant. */
export async function readSequences(db: Db): Promise<SequenceState[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_class c
     where c.relnamespace = current_schema()::regnamespace and c.relkind = 'S' order by c.relname`.execute(
    db,
  );
  const states: SequenceState[] = [];
  for (const { name } of rows) {
    const { rows: state } = await sql<{ last_value: string; is_called: boolean }>`
      select last_value::text as last_value, is_called from ${sql.table(name)}`.execute(db);
    const row = state[0];
    if (row) states.push({ name, lastValue: row.last_value, isCalled: row.is_called });
  }
  return states;
}

/** Sets sequences to the given states (ones the target does not have are an error: schemas differ). */
export async function writeSequences(db: Db, states: readonly SequenceState[]): Promise<void> {
  for (const state of states) {
    await sql`select setval(${state.name}::regclass, ${state.lastValue}::bigint, ${state.isCalled})`.execute(
      db,
    );
  }
}

/**
 * Copies every row and sequence of one tenant to another placement whose tables exist and are at the same
 * schema version, replacing what the target holds, in one target transaction (all or nothing). The source is
 * read in one repeatable-read snapshot. Returns the number of rows copied.
 */
export async function copyTenantData(source: Db, target: Db): Promise<number> {
  return (source as Kysely<unknown>)
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (from) =>
      (target as Kysely<unknown>).transaction().execute(async (to) => {
        const tables = await tenantTables(from);
        await clearTables(to, tables);
        let copied = 0;
        for (const table of tables) {
          for await (const rows of readRows(from, table)) {
            await writeRows(to, table, rows);
            copied += rows.length;
          }
        }
        await writeSequences(to, await readSequences(from));
        return copied;
      }),
    );
}
