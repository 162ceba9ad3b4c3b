import { randomBytes, randomUUID } from 'node:crypto';
import { decodeJwt, SignJWT, type JWTPayload } from 'jose';

/**
 * Access tokens an attacker could present, derived from real ones. Each differs from a valid token in exactly
 * one way, so a refusal proves that one check.
 */

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The token with one claim changed and the original signature kept (so the signature no longer matches). */
export function withAlteredClaims(token: string, changes: JWTPayload): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64url({ ...decodeJwt(token), ...changes })}.${signature}`;
}

/** The token's claims under `alg: none`, unsigned. */
export function unsigned(token: string): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(decodeJwt(token))}.`;
}

/** The token's claims, freshly signed with `key` and `alg` (a wrong key, or a right key with another algorithm). */
export async function resigned(
  token: string,
  key: string,
  options: { alg?: string; changes?: JWTPayload } = {},
): Promise<string> {
  const claims = { ...decodeJwt(token), ...options.changes };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(key));
}

/** The token's claims, signed with the server's own key, but expired a minute ago (and issued before that). */
export function expired(token: string, key: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return resigned(token, key, { changes: { iat: now - 3600, exp: now - 60, jti: randomUUID() } });
}

/** A key no server uses. */
export function strangerKey(): string {
  return randomBytes(32).toString('hex');
}
