import { sql, type Kysely } from 'kysely';

// The tenant's audit log (see src/modules/audit). Unqualified names: in a shared database the migration runs as
// the tenant's role with search_path set to its schema, so the table lands there; in a dedicated one, in public.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('actor_plane', 'text', (c) => c.check(sql`actor_plane in ('core', 'tenant')`))
    .addColumn('actor_user_id', 'integer')
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'integer')
    .addColumn('request_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  // Pruning deletes by age; filters read newest first by action or actor.
  await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
  await db.schema.createIndex('audit_events_action').on('audit_events').columns(['action', 'id']).execute();
  await db.schema
    .createIndex('audit_events_actor')
    .on('audit_events')
    .columns(['actor_user_id', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_events').ifExists().execute();
}
