import { createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { checkClaims } from './token-claims.js';

import type { TenantRole } from '../db/tenant-schema.js';

export type { TenantRole };

/** Who a verified access token speaks for. A core token never carries a tenant; a tenant token always does. */
export type AccessPrincipal =
  | { audience: 'core'; userId: number; jti: string }
  | { audience: 'tenant'; userId: number; tenantId: number; role: TenantRole; jti: string };

const ROLES: readonly string[] = ['owner', 'admin', 'member'];
/** User and organization ids are PostgreSQL `integer`s. */
const MAX_ID = 2_147_483_647;

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
 * const { access_token } = await tokens.issue({ audience: 'core', userId: 7 });
 * const principal = await tokens.verify(access_token, 'core');
 */
export class AccessTokens {
  // A KeyObject made once: given raw bytes, jose would import the key again on every sign and verify.
  private readonly key: KeyObject;

  constructor(
    private readonly config: Pick<
      Config,
      'secretKey' | 'algorithm' | 'jwtIssuer' | 'accessTokenExpireMinutes'
    >,
  ) {
    this.key = createSecretKey(Buffer.from(config.secretKey, 'utf8'));
  }

  async issue(
    subject:
      | { audience: 'core'; userId: number }
      | { audience: 'tenant'; userId: number; tenantId: number; role: TenantRole },
  ): Promise<IssuedAccessToken> {
    const expiresIn = this.config.accessTokenExpireMinutes * 60;
    const claims: JWTPayload =
      subject.audience === 'tenant' ? { tid: subject.tenantId, role: subject.role } : {};
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: this.config.algorithm, typ: 'JWT' })
      .setIssuer(this.config.jwtIssuer)
      .setAudience(subject.audience)
      .setSubject(String(subject.userId))
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(`${expiresIn}s`)
      .sign(this.key);
    return { access_token: token, token_type: 'bearer', expires_in: expiresIn };
  }

  /**
   * Verifies a token for one audience; any failure (bad signature, `alg: none`, wrong audience or issuer, expired,
   * malformed claims) is the same 401 TOKEN_INVALID, so the answer teaches an attacker nothing.
   */
  async verify(token: string, audience: 'core' | 'tenant'): Promise<AccessPrincipal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: [this.config.algorithm],
        issuer: this.config.jwtIssuer,
        audience,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError)
        throw new AppError('TOKEN_INVALID');
      throw error;
    }
    checkClaims(payload);
    const userId = Number(payload.sub);
    const jti = String(payload.jti);
    // Ids are PostgreSQL integers: a larger one would fail the user lookup with a 500, not a 401.
    if (!Number.isSafeInteger(userId) || userId < 1 || userId > MAX_ID || String(userId) !== payload.sub)
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
}

/** The bearer token of an Authorization header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}
