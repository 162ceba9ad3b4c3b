import { sql, type Kysely } from 'kysely';
import type { CoreDatabase } from '../db/core-schema.js';

/** A mail row claimed for delivery: what a transport needs, plus how often it was tried before. */
export interface ClaimedMail {
  id: number;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  attempts: number;
}

/** What `insertMail` stores; mirrors `OutgoingMail` without importing the mailer (no cycle). */
export interface NewMail {
  to: string;
  subject: string;
  text: string;
  html?: string | undefined;
}

/** Longest `last_error` kept: enough to diagnose an SMTP reply, small enough to never bloat the row. */
const MAX_ERROR_LENGTH = 1_000;

/**
 * Records a mail as due now. Runs on whatever handle it is given, so inside a caller's transaction the
 * mail exists only if that transaction commits.
 */
export async function insertMail(db: Kysely<CoreDatabase>, mail: NewMail): Promise<number> {
  const row = await db
    .insertInto('mail_outbox')
    .values({
      to_address: mail.to,
      subject: mail.subject,
      text_body: mail.text,
      html_body: mail.html ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Claims up to `limit` due, unsent mails that have been tried fewer than `maxAttempts` times, and leases
 * them for `leaseMs` by pushing `next_attempt_at` forward, all in one short transaction.
 *
 * `FOR UPDATE SKIP LOCKED` makes concurrent claimers (other processes on the same core) take disjoint
 * rows instead of waiting; the lease then keeps the rows away from them after this transaction commits,
 * while the mail is being sent outside any transaction. If this process dies mid-send, the lease simply
 * expires and someone else retries the mail.
 */
export async function claimDueMail(
  db: Kysely<CoreDatabase>,
  options: { limit: number; leaseMs: number; maxAttempts: number },
): Promise<ClaimedMail[]> {
  return db.transaction().execute(async (trx) => {
    // Only `trx` is used in here: on PGlite the pool has one connection, and the outer handle would wait
    // for it forever.
    const rows = await trx
      .selectFrom('mail_outbox')
      .select(['id', 'to_address', 'subject', 'text_body', 'html_body', 'attempts'])
      .where('sent_at', 'is', null)
      .where('attempts', '<', options.maxAttempts)
      .where('next_attempt_at', '<=', sql<Date>`now()`)
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(options.limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (rows.length === 0) return [];
    await trx
      .updateTable('mail_outbox')
      .set({ next_attempt_at: sql<Date>`now() + make_interval(secs => ${options.leaseMs / 1000}::float8)` })
      .where(
        'id',
        'in',
        rows.map((row) => row.id),
      )
      .execute();
    return rows.map((row) => ({
      id: row.id,
      to: row.to_address,
      subject: row.subject,
      text: row.text_body,
      html: row.html_body,
      attempts: row.attempts,
    }));
  });
}

/** Records a delivery. `sent_at is null` keeps the first delivery time if a lease ever expired mid-send. */
export async function markSent(db: Kysely<CoreDatabase>, id: number): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set({ sent_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('sent_at', 'is', null)
    .execute();
}

/**
 * Records a failed attempt: bumps `attempts`, keeps the error, and schedules the next try `delayMs` from
 * the database's clock (not this process's, which may drift from other processes sharing the core).
 * Returns the new attempt count, or `undefined` if the row was meanwhile sent or deleted.
 */
export async function markFailed(
  db: Kysely<CoreDatabase>,
  id: number,
  error: string,
  delayMs: number,
): Promise<{ attempts: number; nextAttemptAt: Date } | undefined> {
  const row = await db
    .updateTable('mail_outbox')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      last_error: error.slice(0, MAX_ERROR_LENGTH),
      next_attempt_at: sql<Date>`now() + make_interval(secs => ${delayMs / 1000}::float8)`,
    }))
    .where('id', '=', id)
    .where('sent_at', 'is', null)
    .returning(['attempts', 'next_attempt_at'])
    .executeTakeFirst();
  return row ? { attempts: row.attempts, nextAttemptAt: row.next_attempt_at } : undefined;
}

/**
 * Hands claimed but unattempted mails back (due now), so that stopping mid-batch does not delay them
 * by a whole lease.
 */
export async function releaseLease(db: Kysely<CoreDatabase>, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('mail_outbox')
    .set({ next_attempt_at: sql<Date>`now()` })
    .where('id', 'in', [...ids])
    .where('sent_at', 'is', null)
    .execute();
}
