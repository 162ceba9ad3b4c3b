import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One message as the SMTP server received it. */
export interface ReceivedMessage {
  /** The whole RFC 822 message, headers and body, as sent over DATA. */
  raw: string;
  envelope: { from: string | null; to: string[] };
}

export interface SmtpListener {
  readonly port: number;
  /** `smtp://127.0.0.1:<port>`, ready for SMTP_URL. */
  readonly url: string;
  /** Every message received so far, in order. */
  readonly messages: readonly ReceivedMessage[];
  /** Resolves with the first message (already received or arriving later) matching `predicate`. */
  waitForMessage(
    predicate?: (message: ReceivedMessage) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedMessage>;
  close(): Promise<void>;
}

/**
 * Starts a real SMTP server on 127.0.0.1 (a free port unless `port` is given) that accepts any mail
 * without authentication or TLS and keeps it in memory.
 *
 * @example
 * const smtp = await startSmtpListener();
 * after(() => smtp.close());
 * const message = await smtp.waitForMessage((m) => m.envelope.to.includes('a@example.com'));
 */
export async function startSmtpListener(options: { port?: number } = {}): Promise<SmtpListener> {
  const messages: ReceivedMessage[] = [];
  const waiters = new Set<() => void>();

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    // Let close() end promptly even if a client keeps its connection open.
    closeTimeout: 1_000,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const { mailFrom, rcptTo } = session.envelope;
        messages.push({
          raw: Buffer.concat(chunks).toString('utf8'),
          envelope: { from: mailFrom ? mailFrom.address : null, to: rcptTo.map((r) => r.address) },
        });
        for (const notify of waiters) notify();
        callback();
      });
    },
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve((server.server.address() as AddressInfo).port);
    });
  });

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitForMessage(predicate = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = messages.find(predicate);
          if (!found) return false;
          clearTimeout(timer);
          waiters.delete(notify);
          resolve(found);
          return true;
        };
        const notify = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(notify);
          reject(new Error(`no matching SMTP message within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        waiters.add(notify);
        check();
      });
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A message's top-level headers (lower-case names, folded lines joined) and its decoded text and HTML bodies. */
export interface ParsedMessage {
  headers: Record<string, string>;
  text: string | undefined;
  html: string | undefined;
}

/**
 * A deliberately small MIME reader for the messages nodemailer builds (single part or nested multipart;
 * 7bit, 8bit, quoted-printable or base64 bodies), so tests can assert on decoded content instead of on
 * whatever transfer encoding nodemailer picked.
 */
export function parseMessage(raw: string): ParsedMessage {
  const top = splitPart(raw.replace(/\r\n/g, '\n'));
  const parsed: ParsedMessage = { headers: top.headers, text: undefined, html: undefined };
  collectBodies(top, parsed);
  return parsed;
}

interface Part {
  headers: Record<string, string>;
  body: string;
}

function splitPart(part: string): Part {
  const end = part.indexOf('\n\n');
  const head = end === -1 ? part : part.slice(0, end);
  const body = end === -1 ? '' : part.slice(end + 2);
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers[name] ??= line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function collectBodies(part: Part, out: ParsedMessage): void {
  const type = (part.headers['content-type'] ?? 'text/plain').toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = /boundary="?([^";]+)"?/i.exec(part.headers['content-type'] ?? '')?.[1];
    if (!boundary) return;
    const sections = part.body.split(`--${boundary}`).slice(1);
    for (const section of sections) {
      if (section.startsWith('--')) break;
      collectBodies(splitPart(section.replace(/^\n/, '')), out);
    }
    return;
  }
  const decoded = decodeBody(part.body, (part.headers['content-transfer-encoding'] ?? '7bit').toLowerCase());
  if (type.startsWith('text/plain')) out.text ??= decoded;
  else if (type.startsWith('text/html')) out.html ??= decoded;
}

function decodeBody(body: string, encoding: string): string {
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const latin1 = body
      .replace(/=\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(latin1, 'latin1').toString('utf8');
  }
  return body;
}
