import { sql, type Kysely } from 'kysely';

// Requests for a verification or reset email, recorded before the API answers 202 and turned into mail by the
// background sender: the request does the same work whether or not the account exists (no timing oracle), and a
// crash loses nothing.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('account_mail_requests')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('verify', 'reset')`))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('account_mail_requests').ifExists().execute();
}
