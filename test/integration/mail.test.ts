import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { Config } from '../../src/config.js';
import { openCoreDb, type CoreDb } from '../../src/db/core-database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { backoffMs, createMailer, MAX_ATTEMPTS, type Mailer } from '../../src/mail/mailer.js';
import { passwordResetMail, verificationMail } from '../../src/mail/templates.js';
import { freePort } from '../helpers/server-process.js';
import { parseMessage, startSmtpListener, type SmtpListener } from '../helpers/smtp-listener.js';
import { createTestEnv, TEST_ENGINE, type TestEnv } from '../helpers/test-env.js';

interface LogEntry {
  level: string;
  fields: Record<string, unknown>;
  msg: string | undefined;
}

/** A pino-shaped logger that keeps every entry, so tests can check what the mailer logs (and what not). */
function captureLogger(): { log: FastifyBaseLogger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: string) =>
    (fields: unknown, msg?: string): void => {
      if (typeof fields === 'string') entries.push({ level, fields: {}, msg: fields });
      else entries.push({ level, fields: (fields ?? {}) as Record<string, unknown>, msg });
    };
  const logger = {
    level: 'trace',
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    silent: () => undefined,
    child: () => logger,
  };
  return { log: logger, entries };
}

const TOKEN = 'tok_Zx9-secret-token-value';
const LINK = `http://localhost:8000/api/auth/verify?token=${TOKEN}`;

let env: TestEnv;
let core: CoreDb;
let smtp: SmtpListener;
const mailers: Mailer[] = [];

before(async () => {
  env = await createTestEnv();
  core = await openCoreDb(env.config);
  await migrateToLatest(core.db, 'core');
  smtp = await startSmtpListener();
});
after(async () => {
  for (const mailer of mailers) await mailer.stop();
  await smtp?.close();
  await core?.close();
  await env?.cleanup();
});
beforeEach(async () => {
  await core.db.deleteFrom('mail_outbox').execute();
});

function mailerWith(config: Partial<Config>, db: CoreDb = core) {
  const { log, entries } = captureLogger();
  const mailer = createMailer({ config: { ...env.config, ...config }, core: db.db, log });
  mailers.push(mailer);
  return { mailer, entries };
}

async function outboxRow(to: string) {
  return core.db.selectFrom('mail_outbox').selectAll().where('to_address', '=', to).executeTakeFirstOrThrow();
}

/** Milliseconds from the database's now until the row is due again. */
async function dueInMs(to: string): Promise<number> {
  const { rows } = await sql<{ now: Date }>`select now() as now`.execute(core.db);
  const row = await outboxRow(to);
  return row.next_attempt_at.getTime() - (rows[0] as { now: Date }).now.getTime();
}

async function makeDue(to: string): Promise<void> {
  await core.db
    .updateTable('mail_outbox')
    .set({ next_attempt_at: sql<Date>`now() - interval '1 second'` })
    .where('to_address', '=', to)
    .execute();
}

describe('mail templates and backoff', () => {
  it('builds verification and reset mails with the link in text and escaped in HTML', () => {
    const link = 'https://app.example.com/verify?token=a&b=<c>';
    const verify = verificationMail('a@example.com', link);
    assert.equal(verify.to, 'a@example.com');
    assert.equal(verify.subject, 'Verify your email');
    assert.ok(verify.text.includes(link));
    assert.ok(verify.html?.includes('href="https://app.example.com/verify?token=a&amp;b=&lt;c&gt;"'));
    assert.ok(!verify.html?.includes('<c>'));
    const reset = passwordResetMail('a@example.com', link);
    assert.equal(reset.subject, 'Reset your password');
    assert.ok(reset.text.includes(link));
  });

  it('backs off exponentially from 5 s up to one hour', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 10, 11, 20].map(backoffMs),
      [5_000, 10_000, 20_000, 40_000, 2_560_000, 3_600_000, 3_600_000],
    );
  });
});

describe(`mailer on ${TEST_ENGINE}`, () => {
  it('delivers through SMTP with the right envelope, headers and body, and records sent_at', async () => {
    const { mailer } = mailerWith({ smtpUrl: smtp.url });
    const to = 'smtp-delivery@example.com';
    await mailer.enqueue(verificationMail(to, LINK));
    assert.equal(await mailer.flush(), 1);

    const received = await smtp.waitForMessage((m) => m.envelope.to.includes(to));
    assert.deepEqual(received.envelope.to, [to]);
    assert.equal(received.envelope.from, 'no-reply@tenantry.local');
    const message = parseMessage(received.raw);
    assert.equal(message.headers.to, to);
    assert.equal(message.headers.subject, 'Verify your email');
    assert.match(message.headers.from ?? '', /Tenantry <no-reply@tenantry\.local>/);
    assert.ok(message.text?.includes(LINK), message.text);
    assert.ok(message.html?.includes(LINK), message.html);

    const row = await outboxRow(to);
    assert.ok(row.sent_at instanceof Date);
    assert.equal(row.attempts, 0);
    assert.equal(await mailer.flush(), 0, 'a sent mail is never sent again');
    assert.equal(smtp.messages.filter((m) => m.envelope.to.includes(to)).length, 1);
  });

  it('without SMTP_URL writes an .eml file and a readable .txt beside it under DATA_DIR/mail, and logs the link', async () => {
    const { mailer, entries } = mailerWith({ smtpUrl: null });
    const to = 'file-outbox@example.com';
    // A real verification link is longer than a quoted-printable line (76) and holds '=': the .eml splits it
    // and writes '=3D', which is what the .txt copy is for.
    const resetLink = `https://example.com/reset-password?token=${'r'.repeat(43)}&next=%2Fhome`;
    await mailer.enqueue(verificationMail(to, LINK));
    await mailer.enqueue(passwordResetMail(to, resetLink));
    assert.equal(await mailer.flush(), 2);

    const dir = join(env.config.dataDir, 'mail');
    const files = (await readdir(dir)).sort();
    const emls = files.filter((file) => file.endsWith('.eml'));
    const txts = files.filter((file) => file.endsWith('.txt'));
    assert.equal(emls.length, 2, files.join(', '));
    assert.deepEqual(
      txts,
      emls.map((file) => file.replace(/\.eml$/, '.txt')),
      'one .txt beside each .eml, and nothing else (no temp file left)',
    );
    assert.equal(files.length, 4, files.join(', '));
    for (const file of emls) assert.match(file, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z-\d{8}\.eml$/);
    // Names sort by time, so the first one written is the first enqueued.
    const first = parseMessage(await readFile(join(dir, emls[0] as string), 'utf8'));
    assert.equal(first.headers.to, to);
    assert.equal(first.headers.subject, 'Verify your email');
    assert.match(first.headers['message-id'] ?? '', /^<.+@.+>$/);
    assert.ok(first.text?.includes(LINK));
    const secondEml = await readFile(join(dir, emls[1] as string), 'utf8');
    assert.equal(parseMessage(secondEml).headers.subject, 'Reset your password');
    assert.ok(!secondEml.includes(resetLink), 'the raw .eml mangles the long link (quoted-printable)');

    const firstTxt = await readFile(join(dir, txts[0] as string), 'utf8');
    const head = firstTxt.slice(0, firstTxt.indexOf('\n\n'));
    const body = firstTxt.slice(head.length + 2);
    assert.deepEqual(head.split('\n').slice(0, 3), [
      `From: ${env.config.mailFrom}`,
      `To: ${to}`,
      'Subject: Verify your email',
    ]);
    assert.match(head, /^Date: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/m);
    assert.ok(head.split('\n').includes(`Link: ${LINK}`), head);
    assert.equal(
      firstTxt.slice(head.length + 2),
      verificationMail(to, LINK).text,
      'the text body as composed',
    );
    assert.ok(body.includes(LINK));
    const secondTxt = await readFile(join(dir, txts[1] as string), 'utf8');
    assert.ok(secondTxt.split('\n').includes(`Link: ${resetLink}`), secondTxt);
    assert.ok(secondTxt.split('\n').includes(resetLink), 'the link on a line of its own in the body, intact');

    const logged = entries.filter((e) => e.level === 'info' && e.msg === 'mail written to outbox');
    assert.deepEqual(
      logged.map((e) => [e.fields.to, e.fields.link, e.fields.file, e.fields.copy]),
      [
        [to, LINK, join(dir, emls[0] as string), join(dir, txts[0] as string)],
        [to, resetLink, join(dir, emls[1] as string), join(dir, txts[1] as string)],
      ],
    );
    assert.ok((await outboxRow(to)).sent_at instanceof Date);
  });

  it('keeps enqueue fast while SMTP is down, retries with growing backoff, then delivers exactly once', async () => {
    const port = await freePort(); // nothing listens here yet
    const { mailer, entries } = mailerWith({ smtpUrl: `smtp://127.0.0.1:${port}` });
    mailer.start(); // the background loop tries too: enqueue must still not wait for it
    const to = 'smtp-down@example.com';
    const started = Date.now();
    await mailer.enqueue(verificationMail(to, LINK));
    assert.ok(Date.now() - started < 2_000, 'enqueue does not wait for SMTP');
    await mailer.stop(); // back to deterministic, explicit flushes

    await makeDue(to); // whether or not the loop already tried once
    const before = (await outboxRow(to)).attempts;
    assert.equal(await mailer.flush(), 0);
    let row = await outboxRow(to);
    assert.equal(row.attempts, before + 1);
    assert.equal(row.sent_at, null);
    assert.match(row.last_error ?? '', /ECONNREFUSED|connect/i);
    const firstDelay = await dueInMs(to);

    assert.equal(await mailer.flush(), 0, 'not due yet: not tried');
    assert.equal((await outboxRow(to)).attempts, before + 1);

    await makeDue(to);
    assert.equal(await mailer.flush(), 0);
    row = await outboxRow(to);
    assert.equal(row.attempts, before + 2);
    const secondDelay = await dueInMs(to);
    assert.ok(firstDelay > 0 && secondDelay > firstDelay, `${firstDelay} ms then ${secondDelay} ms`);
    assert.ok(secondDelay <= backoffMs(before + 2) + 1_000, `${secondDelay} ms`);

    const warnings = entries.filter((e) => e.level === 'warn');
    assert.ok(warnings.length >= 2);
    for (const warning of warnings) assert.equal(warning.fields.outboxId, row.id);
    assert.ok(!JSON.stringify(entries).includes(TOKEN), 'the body (and its token) is never logged');

    const revived = await startSmtpListener({ port });
    try {
      await makeDue(to);
      assert.equal(await mailer.flush(), 1);
      await makeDue(to);
      assert.equal(await mailer.flush(), 0);
      assert.equal(revived.messages.length, 1);
      assert.ok((await outboxRow(to)).sent_at instanceof Date);
    } finally {
      await revived.close();
    }
  });

  it(`gives up after ${MAX_ATTEMPTS} attempts, keeping the mail unsent with its last error`, async () => {
    const port = await freePort();
    const { mailer, entries } = mailerWith({ smtpUrl: `smtp://127.0.0.1:${port}` });
    const to = 'give-up@example.com';
    await mailer.enqueue(verificationMail(to, LINK));
    await core.db
      .updateTable('mail_outbox')
      .set({ attempts: MAX_ATTEMPTS - 1 })
      .where('to_address', '=', to)
      .execute();
    assert.equal(await mailer.flush(), 0);
    const row = await outboxRow(to);
    assert.equal(row.attempts, MAX_ATTEMPTS);
    assert.ok(row.last_error);
    assert.ok(entries.some((e) => e.level === 'error' && e.fields.outboxId === row.id));

    await makeDue(to);
    assert.equal(await mailer.flush(), 0);
    const after = await outboxRow(to);
    assert.equal(after.attempts, MAX_ATTEMPTS, 'not tried again');
    assert.equal(after.sent_at, null);
    assert.equal(after.last_error, row.last_error);
  });

  it('sends nothing for a rolled-back transaction, and a committed one through the background loop', async () => {
    const { mailer } = mailerWith({ smtpUrl: smtp.url });
    mailer.start();
    const rolledBack = 'rolled-back@example.com';
    await assert.rejects(
      core.db.transaction().execute(async (trx) => {
        await mailer.enqueue(verificationMail(rolledBack, LINK), trx);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    const committed = 'committed@example.com';
    await core.db.transaction().execute(async (trx) => {
      await mailer.enqueue(verificationMail(committed, LINK), trx);
    });
    // No flush here: the wake after enqueue (or the poll) sends it.
    await smtp.waitForMessage((m) => m.envelope.to.includes(committed), 15_000);
    await mailer.stop();

    assert.equal(await mailer.flush(), 0);
    assert.equal(smtp.messages.filter((m) => m.envelope.to.includes(rolledBack)).length, 0);
    const rows = await core.db.selectFrom('mail_outbox').select('to_address').execute();
    assert.deepEqual(
      rows.map((r) => r.to_address),
      [committed],
    );
  });

  it('two mailers flushing concurrently deliver each mail exactly once', async () => {
    // On PostgreSQL the second mailer gets its own pool, as a second process would: the claims really
    // compete, and FOR UPDATE SKIP LOCKED plus the lease keep them disjoint. PGlite cannot do that (a
    // second handle on the same directory is refused by its lock, and one handle has one connection that
    // serializes every transaction), so there both mailers share the handle: their claims interleave one
    // transaction at a time and the lease alone must keep them apart.
    const second = TEST_ENGINE === 'postgres' ? await openCoreDb(env.config) : core;
    try {
      const a = mailerWith({ smtpUrl: smtp.url }).mailer;
      const b = mailerWith({ smtpUrl: smtp.url }, second).mailer;
      const recipients = Array.from({ length: 24 }, (_, i) => `many-${i}@example.com`);
      for (const to of recipients) await a.enqueue(verificationMail(to, LINK));

      const [sentByA, sentByB] = await Promise.all([a.flush(), b.flush()]);
      assert.equal(sentByA + sentByB, recipients.length, `${sentByA} + ${sentByB}`);
      for (const to of recipients) {
        const copies = smtp.messages.filter((m) => m.envelope.to.includes(to)).length;
        assert.equal(copies, 1, `${to} received ${copies} times`);
      }
      const unsent = await core.db
        .selectFrom('mail_outbox')
        .select('id')
        .where('sent_at', 'is', null)
        .execute();
      assert.equal(unsent.length, 0);
      assert.equal(await a.flush(), 0);
      assert.equal(await b.flush(), 0);
    } finally {
      if (second !== core) await second.close();
    }
  });
});
