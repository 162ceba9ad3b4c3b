import { sql, type Kysely } from 'kysely';

// The registry of tenant servers (issue 13): where new tenants may be placed. A row's `url` carries credentials and
// is never printed; `default` (url null) is the zero-configuration server, TENANT_DATABASE_URL or the core's own
// server (or the embedded engine), so it is registered from the start and follows the configuration.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tenant_servers')
    .addColumn('name', 'text', (c) => c.primaryKey().check(sql`name ~ '^[a-z][a-z0-9_-]{0,39}$'`))
    .addColumn('url', 'text')
    .addColumn('weight', 'integer', (c) =>
      c
        .notNull()
        .defaultTo(1)
        .check(sql`weight between 1 and 1000`),
    )
    .addColumn('state', 'text', (c) =>
      c
        .notNull()
        .defaultTo('active')
        .check(sql`state in ('active', 'draining')`),
    )
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('tenant_servers_default_has_no_url', sql`(name = 'default') = (url is null)`)
    .execute();
  await sql`insert into tenant_servers (name) values ('default')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tenant_servers').execute();
}
