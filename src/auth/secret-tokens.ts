import { createHash, randomBytes } from 'node:crypto';

/** A fresh opaque token: 256 random bits, URL-safe. Only its hash is ever stored. */
export function newSecretToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * SHA-256 of a secret token. A fast hash is right here: the token has 256 bits of entropy, so there is nothing
 * to brute-force, and lookups by hash stay indexed.
 */
export function hashSecretToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
