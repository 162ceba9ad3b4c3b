import { AppError } from '../../errors.js';

/**
 * A plain RFC 5322 addr-spec, ASCII only: a dot-atom local part (letters, digits and !#$%&'*+/=?^_`{|}~-, dots
 * only between them), `@`, and a host name of at least two dot-separated labels (letters, digits, inner hyphens).
 * Everything of the address-list syntax is refused: display names and angle brackets (`x<evil@attacker.co>`),
 * list separators (`a@b.co,` `a@b.co;x`), quoted local parts (`"a@b.co"`), comments (`a(b)@c.co`), IP literals.
 * A mail library given any of those may send to another address than the one stored; deliverability itself is
 * proven by the verification email.
 */
const ATOM = "[a-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const EMAIL = new RegExp(`^${ATOM}(?:\\.${ATOM})*@${LABEL}(?:\\.${LABEL})+$`);
const MAX_EMAIL_LENGTH = 254;
const MAX_LOCAL_LENGTH = 64;

/** True for a plain addr-spec as described above (the input must already be trimmed and lower-cased). */
export function isPlainAddress(email: string): boolean {
  return email.length <= MAX_EMAIL_LENGTH && email.indexOf('@') <= MAX_LOCAL_LENGTH && EMAIL.test(email);
}

/**
 * Trims and lower-cases an email (the contract compares emails case-insensitively and stores them lower-case),
 * answering 422 for anything but a plain address.
 */
export function normalizeEmail(raw: string, path = '/email'): string {
  const email = raw.trim().toLowerCase();
  if (!isPlainAddress(email)) {
    throw new AppError('VALIDATION_ERROR', `Invalid body: ${path} must be a plain email address`, {
      errors: [{ path, message: 'must be a plain email address (local@domain.tld)' }],
    });
  }
  return email;
}
