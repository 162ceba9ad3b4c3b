import { sql, type Kysely } from 'kysely';

// Migrations are frozen history: they use an untyped handle so later schema changes never break them.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tenant_users')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text')
    .addColumn('role', 'text', (c) =>
      c
        .notNull()
        .defaultTo('member')
        .check(sql`role in ('owner', 'admin', 'member')`),
    )
    .addColumn('is_active', 'boolean', (c) => c.notNull().defaultTo(true))
    // The owner is linked to its core user; unique so that adding the owner twice is a no-op.
    .addColumn('core_user_id', 'integer', (c) => c.unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('tenant_users_email_lower', sql`email = lower(email)`)
    .execute();

  await db.schema
    .createTable('tenant_refresh_tokens')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('tenant_users.id').onDelete('cascade'))
    .addColumn('family_id', 'uuid', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('tenant_refresh_tokens_family')
    .on('tenant_refresh_tokens')
    .column('family_id')
    .execute();
  await db.schema
    .createIndex('tenant_refresh_tokens_user')
    .on('tenant_refresh_tokens')
    .column('user_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['tenant_refresh_tokens', 'tenant_users']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
