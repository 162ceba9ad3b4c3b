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
 * SMTP when `SMTP_URL` is set; otherwise the development file outbox under `DATA_DIR/mail`.
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
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const name = `${stamp}-${String(mail.id).padStart(8, '0')}.eml`;
      const file = join(dir, name);
      // Write to a hidden temp name, then rename: a reader never sees a half-written message.
      const temp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
      try {
        await writeFile(temp, message, { mode: 0o600 });
        await rename(temp, file);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      log.info(
        { outboxId: mail.id, to: mail.to, link: firstLink(mail.text), file },
        'mail written to outbox',
      );
    },
    close() {
      transporter.close();
    },
  };
}
