import { sql, type Kysely } from 'kysely';

// A tenant lives at {server, database, schema}: `placement` (already there) is the server, `tenant_db_name` the
// database, `tenant_schema` the schema of a shared tenant (null for a dedicated database), `placement_kind` which
// of the two. Every existing organization has a database of its own.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('organizations')
    .addColumn('placement_kind', 'text', (c) =>
      c
        .notNull()
        .defaultTo('dedicated')
        .check(sql`placement_kind in ('dedicated', 'shared')`),
    )
    .execute();
  await db.schema.alterTable('organizations').addColumn('tenant_schema', 'text').execute();
  await db.schema
    .alterTable('organizations')
    .addCheckConstraint(
      'organizations_shared_has_schema',
      sql`placement_kind = 'dedicated' or tenant_db_name is null or tenant_schema is not null`,
    )
    .execute();
  // Choosing a shared database counts its tenants; orphan detection looks rows up by database.
  await db.schema
    .createIndex('organizations_tenant_database')
    .on('organizations')
    .columns(['tenant_db_name', 'tenant_schema'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('organizations_tenant_database').ifExists().execute();
  await db.schema.alterTable('organizations').dropConstraint('organizations_shared_has_schema').execute();
  await db.schema.alterTable('organizations').dropColumn('tenant_schema').execute();
  await db.schema.alterTable('organizations').dropColumn('placement_kind').execute();
}
