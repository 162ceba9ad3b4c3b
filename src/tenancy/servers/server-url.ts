import { serverAddressOf, type ServerAddress } from '../placement/placement.js';

/** A tenant server's connection URL that failed validation; the message never holds the password. */
export class ServerUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerUrlError';
  }
}

/** A checked tenant server URL: the credentials-bearing `url` (never print it) and its printable forms. */
export interface ServerUrl {
  /** With credentials, as given: for connecting only. */
  readonly url: string;
  /** `postgres://host:port`: what organization rows record. */
  readonly address: ServerAddress;
  /** The URL with its password replaced by `***`: safe to print and log. */
  readonly redacted: string;
}

/**
 * The URL with any password replaced by `***` (and nothing else changed); text that is not a URL becomes
 * `<invalid URL>`, since it might be a password-bearing string with a typo.
 *
 * @example
 * redactUrl('postgres://app:s3cret@db1:5432/postgres'); // 'postgres://app:***@db1:5432/postgres'
 */
export function redactUrl(text: string): string {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return '<invalid URL>';
  }
  if (parsed.password !== '') parsed.password = '***';
  // A password may also hide in the query string (`?password=`).
  if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
  return parsed.toString();
}

/**
 * Checks a tenant server URL given by an operator: `postgres:` or `postgresql:`, a host, no database other than
 * the maintenance one (`/postgres` or none: tenant databases are created next to it).
 *
 * @throws ServerUrlError with a message that never contains the password
 */
export function parseServerUrl(text: string): ServerUrl {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ServerUrlError(
      'The server URL is not a URL (expected postgres://user:password@host:port/postgres)',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ServerUrlError(`The server URL must start with postgres:// (got ${parsed.protocol}//)`);
  }
  if (parsed.hostname === '') throw new ServerUrlError('The server URL has no host');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database !== '' && database !== 'postgres') {
    throw new ServerUrlError(
      `The server URL names database "${database}": name the maintenance database (/postgres) or none`,
    );
  }
  if (database === '') parsed.pathname = '/postgres';
  const url = parsed.toString();
  return { url, address: serverAddressOf(url), redacted: redactUrl(url) };
}
