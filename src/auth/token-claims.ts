import type { JWTPayload } from 'jose';
import { AppError } from '../errors.js';

/** How far a token's `iat` may lie ahead of this server's clock (other servers' clocks drift a little). */
export const MAX_CLOCK_SKEW_SECONDS = 60;

/**
 * Claim checks jose's `jwtVerify` does not make, on a payload whose signature, issuer, audience and expiry it
 * has already verified: 401 TOKEN_INVALID for
 * - an `iat` in the future beyond the allowed clock skew (a token minted "later" would outlive its lifetime
 *   as seen by the issuer's clock, and no honest issuer produces one);
 * - an `aud` that is an array (jose accepts any array containing the expected audience; this server only ever
 *   issues a single string, so an array is a token someone else made).
 *
 * @example
 * checkClaims(payload); // throws AppError('TOKEN_INVALID')
 */
export function checkClaims(payload: JWTPayload, nowSeconds = Math.floor(Date.now() / 1000)): void {
  if (typeof payload.aud !== 'string') throw new AppError('TOKEN_INVALID');
  if (typeof payload.iat !== 'number' || payload.iat > nowSeconds + MAX_CLOCK_SKEW_SECONDS)
    throw new AppError('TOKEN_INVALID');
}
