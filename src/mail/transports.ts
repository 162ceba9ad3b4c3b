import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { createTransport } from 'nodemailer';
import type { Config } from '../config.js';

/** One message ready to leave: the outbox id names it in logs and file names. */
export interface TransportMail {
  id: number;
  to: string;
  subject: string;
  text: string;
  html: string | null;
}

/** Delivers one message or rejects; knows nothing about the outbox or retries. */
export interface MailTransport {
  readonly kind: 'smtp' | 'file';
  send(mail: TransportMail): Promise<void>;
  close(): void;
}

/**
 * SMTP timeouts, far below nodemailer's defaults (2 min connect, 10 min idle), so that a slow or
 * black-holed server costs one retry instead of stalling the loop and the shutdown behind it.
 */
export const SMTP_TIMEOUTS = {
  connectionTimeout: 10_000,
  greetingTimeout: 10_000,
  socketTimeout: 20_000,
} as const;

/** The first http(s) link in a text body, for the development log line. */
export function firstLink(text: string): string | undefined {
  return /https?:\/\/[^\s<>"']+/.exec(text)?.[0];
}

/**
 * SMTP when `SMTP_URL` is set; otherwise the development file outbox under `DATA_DIR/mail` (each message as
 * `<time>-<id>.eml` and a readable `<time>-<id>.txt` beside it).
 *
 * @example
 * const transport = createMailTransport(config, log);
 * await transport.send({ id: 1, to: 'a@example.com', subject: 'Hi', text: 'Hello', html: null });
 */
export function createMailTransport(config: Config, log: FastifyBaseLogger): MailTransport {
  return config.smtpUrl
    ? smtpTransport(config.smtpUrl, config.mailFrom)
    : fileTransport(join(config.dataDir, 'mail'), config.mailFrom, log);
}

/**
 * nodemailer's message options for one mail. The recipient is an address object, never a string: a string is
 * parsed as an address list (`a@b.co, evil@x.co`, `x <evil@x.co>`), so a stored address that slipped past
 * validation could send the mail elsewhere. As an object it is one mailbox, exactly the stored address.
 */
function messageOptions(from: string, mail: TransportMail) {
  return {
    from,
    to: { name: '', address: mail.to },
    subject: mail.subject,
    text: mail.text,
    ...(mail.html !== null ? { html: mail.html } : {}),
  };
}

function smtpTransport(url: string, from: string): MailTransport {
  // Not pooled: mail is rare (sign-up, reset), and a fresh connection per message recovers on its own
  // from a server restart. The url may still carry nodemailer options as query parameters.
  const transporter = createTransport({ url, ...SMTP_TIMEOUTS });
  return {
    kind: 'smtp',
    async send(mail) {
      await transporter.sendMail(messageOptions(from, mail));
    },
    close() {
      transporter.close();
    },
  };
}

/**
 * The readable copy the file outbox writes beside each `.eml`: the headers a developer looks at, the first link on
 * a `Link:` line, then the text body as it was composed. The `.eml` is quoted-printable (long lines split with `=`,
 * `=` itself written `=3D`), so a link copied from it is broken; this copy has it intact.
 *
 * @example
 * readableCopy({ id: 1, to: 'a@example.com', subject: 'Hi', text: 'https://x.test/?a=1', html: null }, 'f@x.test', new Date());
 */
export function readableCopy(mail: TransportMail, from: string, date: Date): string {
  const link = firstLink(mail.text);
  const headers = [
    `From: ${from}`,
    `To: ${mail.to}`,
    `Subject: ${mail.subject}`,
    `Date: ${date.toISOString()}`,
    ...(link ? [`Link: ${link}`] : []),
  ];
  return `${headers.join('\n')}\n\n${mail.text.endsWith('\n') ? mail.text : `${mail.text}\n`}`;
}

/** Writes `content` to `file` through a hidden temp name and a rename: a reader never sees half a file. */
async function writeAtomically(dir: string, name: string, content: string | Buffer): Promise<string> {
  const file = join(dir, name);
  const temp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, content, { mode: 0o600 });
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return file;
}

function fileTransport(dir: string, from: string, log: FastifyBaseLogger): MailTransport {
  // nodemailer's stream transport builds the real RFC 822 message (headers, MIME parts, encodings)
  // without sending it anywhere.
  const transporter = createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    kind: 'file',
    async send(mail) {
      const info = await transporter.sendMail(messageOptions(from, mail));
      const message = info.message;
      if (!Buffer.isBuffer(message)) throw new Error('stream transport did not return a buffer');
      await mkdir(dir, { recursive: true });
      // ISO time first so a directory listing sorts by time; ':' and '.' replaced to stay portable.
      // The zero-padded id orders mails written within the same millisecond.
      const now = new Date();
      const base = `${now.toISOString().replace(/[:.]/g, '-')}-${String(mail.id).padStart(8, '0')}`;
      // The readable copy first: whoever sees the .eml finds its .txt beside it.
      const copy = await writeAtomically(dir, `${base}.txt`, readableCopy(mail, from, now));
      const file = await writeAtomically(dir, `${base}.eml`, message);
      log.info(
        { outboxId: mail.id, to: mail.to, link: firstLink(mail.text), file, copy },
        'mail written to outbox',
      );
    },
    close() {
      transporter.close();
    },
  };
}
