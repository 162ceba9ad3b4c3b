import { sql, type Kysely } from 'kysely';

// The core's audit log: organization lifecycle and core account events (see src/modules/audit).
// `owner_user_id` is the core user the event concerns (the organization's owner, or the account itself): the one
// core user who may read it through GET /api/audit-events.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('core_audit_events')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('actor_plane', 'text', (c) => c.check(sql`actor_plane in ('core', 'tenant')`))
    .addColumn('actor_user_id', 'integer')
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'integer')
    .addColumn('organization_id', 'integer')
    .addColumn('owner_user_id', 'integer')
    .addColumn('request_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await db.schema.createIndex('core_audit_events_at').on('core_audit_events').column('at').execute();
  await db.schema
    .createIndex('core_audit_events_owner')
    .on('core_audit_events')
    .columns(['owner_user_id', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('core_audit_events').ifExists().execute();
}
