import { createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { signHmacJwt, verifyHmacJwt } from './hmac-jwt.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

import type { TenantRole } from '../db/tenant-schema.js';

export type { TenantRole };

/** Who a verified access token speaks for. A core token never carries a tenant; a tenant token always does. */
export type AccessPrincipal =
  | { audience: 'core'; userId: number; jti: string }
  | { audience: 'tenant'; userId: number; tenantId: number; role: TenantRole; jti: string };

const ROLES: readonly string[] = ['owner', 'admin', 'member'];
/** User and organization ids are PostgreSQL `integer`s. */
const MAX_ID = 2_147_483_647;
/** How far in the future a token's `iat` may lie: the clocks of several app machines differ slightly. */
export const CLOCK_SKEW_SECONDS = 60;
/** Verified tokens remembered per process (a few MB at most): enough for every client active in a window. */
const VERIFIED_CACHE_ENTRIES = 10_000;

/** The token response of the contract, minus the refresh token the caller adds. */
export interface IssuedAccessToken {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
}

/**
 * Issues and verifies access tokens. Verification pins the algorithm, issuer and audience, so a core token is
 * never accepted where a tenant token is expected, and the reverse.
 *
 * @example
 * const tokens = new AccessTokens(config);
 * const { access_token } = tokens.issue({ audience: 'core', userId: 7 });
 * const principal = tokens.verify(access_token, 'core');
 */
export class AccessTokens {
  // A KeyObject made once: given raw bytes, node:crypto would import the key on every signature.
  private readonly key: KeyObject;
  private readonly verified = new VerifiedTokenCache<AccessPrincipal>(VERIFIED_CACHE_ENTRIES);

  constructor(
    private readonly config: Pick<
      Config,
      'secretKey' | 'algorithm' | 'jwtIssuer' | 'accessTokenExpireMinutes'
    >,
  ) {
    this.key = createSecretKey(Buffer.from(config.secretKey, 'utf8'));
  }

  issue(
    subject:
      | { audience: 'core'; userId: number }
      | { audience: 'tenant'; userId: number; tenantId: number; role: TenantRole },
  ): IssuedAccessToken {
    const expiresIn = this.config.accessTokenExpireMinutes * 60;
    const iat = Math.floor(Date.now() / 1000);
    const registered = {
      iss: this.config.jwtIssuer,
      aud: subject.audience,
      sub: String(subject.userId),
      jti: randomUUID(),
      iat,
      exp: iat + expiresIn,
    };
    const claims =
      subject.audience === 'tenant'
        ? { ...registered, tid: subject.tenantId, role: subject.role }
        : registered;
    const token = signHmacJwt(claims, this.key, this.config.algorithm);
    return { access_token: token, token_type: 'bearer', expires_in: expiresIn };
  }

  /**
   * Verifies a token for one audience; any failure (bad signature, `alg: none`, wrong audience or issuer, expired,
   * issued in the future, malformed claims) is the same 401 TOKEN_INVALID, so the answer teaches an attacker
   * nothing. A token that passed is remembered until it expires (see VerifiedTokenCache): the next request with
   * the same token skips the signature check, never the expiry or audience check.
   */
  verify(token: string, audience: 'core' | 'tenant'): AccessPrincipal {
    const nowMs = Date.now();
    const cached = this.verified.get(token, nowMs);
    if (cached) {
      if (cached.audience !== audience) throw new AppError('TOKEN_INVALID');
      return cached;
    }
    const claims = verifyHmacJwt(token, this.key, {
      algorithm: this.config.algorithm,
      issuer: this.config.jwtIssuer,
      audience,
      clockSkewSeconds: CLOCK_SKEW_SECONDS,
      now: Math.floor(nowMs / 1000),
    });
    if (!claims) throw new AppError('TOKEN_INVALID');
    const principal = toPrincipal(claims.payload, claims.sub, claims.jti, audience);
    this.verified.set(token, Object.freeze(principal), claims.exp * 1000);
    return principal;
  }
}

/** The principal a verified token speaks for, once its subject and tenant claims are checked. */
function toPrincipal(
  payload: Readonly<Record<string, unknown>>,
  sub: string,
  jti: string,
  audience: 'core' | 'tenant',
): AccessPrincipal {
  const userId = Number(sub);
  // Ids are PostgreSQL integers: a larger one would fail the user lookup with a 500, not a 401.
  if (!Number.isSafeInteger(userId) || userId < 1 || userId > MAX_ID || String(userId) !== sub)
    throw new AppError('TOKEN_INVALID');
  if (audience === 'core') {
    if ('tid' in payload) throw new AppError('TOKEN_INVALID');
    return { audience, userId, jti };
  }
  const { tid, role } = payload;
  if (typeof tid !== 'number' || !Number.isSafeInteger(tid) || tid < 1 || tid > MAX_ID)
    throw new AppError('TOKEN_INVALID');
  if (typeof role !== 'string' || !ROLES.includes(role)) throw new AppError('TOKEN_INVALID');
  return { audience, userId, tenantId: tid, role: role as TenantRole, jti };
}

/** The bearer token of an Authorization header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}
