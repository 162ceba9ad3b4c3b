import { sql, type Kysely } from 'kysely';

// Custom domains of organizations: a request whose host is one of them runs in that organization's tenant.
// A domain is stored lower-case and belongs to one row at most; rows of deleted organizations are freed (deleted)
// when the organization is, and treated as free by the repository if a deletion left any behind.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('organization_domains')
    .addColumn('domain', 'text', (c) => c.primaryKey().check(sql`domain = lower(domain)`))
    .addColumn('organization_id', 'integer', (c) =>
      c.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // An organization's domains are listed and freed by organization.
  await db.schema
    .createIndex('organization_domains_organization')
    .on('organization_domains')
    .column('organization_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('organization_domains').ifExists().execute();
}
