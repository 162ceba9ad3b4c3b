import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { JwtAlgorithm } from '../config.js';

/** Claims every access token must carry, already checked for type and time by `verifyHmacJwt`. */
export interface VerifiedClaims {
  readonly sub: string;
  readonly jti: string;
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
  readonly iat: number;
  readonly payload: Readonly<Record<string, unknown>>;
}

export interface HmacJwtChecks {
  readonly algorithm: JwtAlgorithm;
  readonly issuer: string;
  readonly audience: string;
  /** Seconds an `iat` may lie in the future (clocks of several app machines differ slightly). */
  readonly clockSkewSeconds: number;
  /** Seconds since the epoch. */
  readonly now: number;
}

const HASH: Record<JwtAlgorithm, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

function decodeJson(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** A whole number of seconds (JSON numbers like 1e400 parse to Infinity, and are refused). */
function isSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Verifies an HMAC-signed compact JWS (HS256/384/512) with `node:crypto` alone, and its registered claims:
 * the algorithm pinned (no `none`, no other HMAC size, no `crit` extensions), a canonical signature compared in
 * constant time, `typ` absent or `JWT`, `iss` and a single-string `aud` equal to the expected ones, `exp` in the
 * future, `nbf` (if any) not in the future, `iat` not beyond the clock skew in the future, `sub` and `jti`
 * non-empty strings. Returns null on any failure, without saying which: callers answer one uniform 401.
 *
 * Why not jose here: on this hot path (every authenticated request) jose re-imports the key and goes through
 * WebCrypto's promise machinery on each call; measured, that was a third of the server's CPU per request.
 *
 * @example
 * const claims = verifyHmacJwt(token, key, { algorithm: 'HS256', issuer: 'tenantry', audience: 'core',
 *   clockSkewSeconds: 60, now: Math.floor(Date.now() / 1000) });
 */
export function verifyHmacJwt(token: string, key: KeyObject, checks: HmacJwtChecks): VerifiedClaims | null {
  const firstDot = token.indexOf('.');
  const secondDot = token.indexOf('.', firstDot + 1);
  if (firstDot <= 0 || secondDot <= firstDot + 1 || token.indexOf('.', secondDot + 1) !== -1) return null;
  const signed = token.slice(0, secondDot);
  const signature = token.slice(secondDot + 1);
  // Comparing the canonical encoding (not decoded bytes) also refuses look-alike signatures with altered padding
  // bits or foreign characters, which Buffer's lenient base64url decoder would otherwise accept.
  const expected = Buffer.from(createHmac(HASH[checks.algorithm], key).update(signed).digest('base64url'));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;

  const header = decodeJson(token.slice(0, firstDot));
  if (!header || header.alg !== checks.algorithm || 'crit' in header) return null;
  if (header.typ !== undefined && header.typ !== 'JWT') return null;
  const payload = decodeJson(token.slice(firstDot + 1, secondDot));
  if (!payload) return null;

  const { iss, aud, exp, nbf, iat, sub, jti } = payload;
  if (iss !== checks.issuer || aud !== checks.audience) return null;
  if (!isSeconds(exp) || exp <= checks.now) return null;
  if (nbf !== undefined && (!isSeconds(nbf) || nbf > checks.now)) return null;
  if (!isSeconds(iat) || iat > checks.now + checks.clockSkewSeconds) return null;
  if (typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || jti === '') return null;
  return { sub, jti, exp, iat, payload };
}

/** The claims `signHmacJwt` writes: the registered ones every access token carries, then any private ones. */
export interface HmacJwtClaims {
  readonly iss: string;
  readonly aud: string;
  readonly sub: string;
  readonly jti: string;
  /** Seconds since the epoch. */
  readonly iat: number;
  readonly exp: number;
  readonly [claim: string]: string | number;
}

/** The encoded protected header per algorithm: the same on every token, so encoded once. */
const HEADERS = new Map<JwtAlgorithm, string>();

function encodedHeader(algorithm: JwtAlgorithm): string {
  let header = HEADERS.get(algorithm);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: algorithm, typ: 'JWT' })).toString('base64url');
    HEADERS.set(algorithm, header);
  }
  return header;
}

/**
 * Signs claims as a compact JWS with HMAC (HS256/384/512), header `{"alg":…,"typ":"JWT"}`: what `verifyHmacJwt`
 * (and any JOSE library) accepts. Synchronous with `node:crypto`: jose's signing goes through WebCrypto, which
 * hands every signature to libuv's thread pool and back; measured on a login, that hop cost more main-thread
 * time than the HMAC itself.
 *
 * @example
 * const token = signHmacJwt({ iss: 'tenantry', aud: 'core', sub: '7', jti, iat, exp }, key, 'HS256');
 */
export function signHmacJwt(claims: HmacJwtClaims, key: KeyObject, algorithm: JwtAlgorithm): string {
  const signed = `${encodedHeader(algorithm)}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${signed}.${createHmac(HASH[algorithm], key).update(signed).digest('base64url')}`;
}
