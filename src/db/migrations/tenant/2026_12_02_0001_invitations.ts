import { sql, type Kysely } from 'kysely';

// Invitations of one tenant. Runs unqualified, like every tenant migration: a dedicated database has the table in
// its default schema, a shared tenant in its own schema (the runner sets the role and search_path first).
// Frozen history: an untyped handle, so later schema changes never break it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tenant_invitations')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('owner', 'admin', 'member')`))
    // `expired` is not stored: it is a pending invitation past `expires_at`.
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status in ('pending', 'accepted', 'revoked')`),
    )
    // SHA-256 of the emailed token; a resend replaces it, so the old link stops working.
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('invited_by', 'integer', (c) => c.references('tenant_users.id').onDelete('set null'))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('accepted_at', 'timestamptz')
    .addColumn('accepted_user_id', 'integer', (c) => c.references('tenant_users.id').onDelete('set null'))
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('tenant_invitations_email_lower', sql`email = lower(email)`)
    .execute();
  // At most one live invitation per address: a new one replaces (revokes) the pending one first.
  await sql`create unique index tenant_invitations_pending_email on tenant_invitations (email) where status = 'pending'`.execute(
    db,
  );
  await db.schema
    .createIndex('tenant_invitations_status_id')
    .on('tenant_invitations')
    .columns(['status', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tenant_invitations').ifExists().execute();
}
