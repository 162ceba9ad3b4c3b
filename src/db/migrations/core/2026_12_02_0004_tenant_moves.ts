import { sql, type Kysely } from 'kysely';

// A tenant being moved (tenancy/lifecycle/tenant-mover.ts): `move_step` is the last step done (null: no move),
// and `move_*` name the copy that is NOT live — the target before the switch, the old copy after it — so a
// crashed move is settled by dropping that copy whatever the step (or resumed by `tenants move --resume`).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('organizations')
    .addColumn('move_step', 'text', (c) =>
      c.check(sql`move_step in ('frozen', 'sealed', 'copied', 'switched')`),
    )
    .addColumn('move_placement_kind', 'text', (c) =>
      c.check(sql`move_placement_kind in ('dedicated', 'shared')`),
    )
    .addColumn('move_server', 'text')
    .addColumn('move_db_name', 'text')
    .addColumn('move_schema', 'text')
    .execute();
  await db.schema
    .alterTable('organizations')
    .addCheckConstraint(
      'organizations_move_has_copy',
      sql`move_step is null or (move_placement_kind is not null and move_db_name is not null)`,
    )
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('organizations').dropConstraint('organizations_move_has_copy').execute();
  for (const column of ['move_schema', 'move_db_name', 'move_server', 'move_placement_kind', 'move_step']) {
    await db.schema.alterTable('organizations').dropColumn(column).execute();
  }
}
