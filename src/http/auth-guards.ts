import type { FastifyRequest } from 'fastify';
import { bearerToken } from '../auth/access-tokens.js';
import { AppError } from '../errors.js';

/**
 * preParsing hook for core routes: a valid core access token of an active user. Runs before body validation,
 * as the contract orders the checks (tenant, then authentication, then body).
 */
export async function requireCoreUser(request: FastifyRequest): Promise<void> {
  const token = bearerToken(request.headers.authorization);
  if (!token) throw new AppError('NOT_AUTHENTICATED');
  const { accessTokens, coreAuth } = request.server.services;
  const principal = accessTokens.verify(token, 'core');
  request.coreUser = await coreAuth.principalUser(principal.userId);
}

/**
 * preParsing hook for tenant routes: a valid tenant access token whose `tid` is the tenant resolved from
 * X-TENANT, for a user who still exists and is active in that tenant's database. Core tokens, tokens of other
 * tenants and tokens of removed users are all the same 401 TOKEN_INVALID.
 */
export async function requireTenantUser(request: FastifyRequest): Promise<void> {
  const tenant = request.tenant;
  if (!tenant) throw new AppError('TENANT_REQUIRED');
  const token = bearerToken(request.headers.authorization);
  if (!token) throw new AppError('NOT_AUTHENTICATED');
  const { accessTokens, tenantAuth } = request.server.services;
  const principal = accessTokens.verify(token, 'tenant');
  if (principal.audience !== 'tenant' || principal.tenantId !== tenant.id)
    throw new AppError('TOKEN_INVALID');
  request.tenantUser = await tenantAuth.principalUser(tenant, principal.userId);
}

/** Authenticates in whichever plane the request was bound to. */
export async function requireUser(request: FastifyRequest): Promise<void> {
  return request.tenant ? requireTenantUser(request) : requireCoreUser(request);
}

/** preParsing hook (includes requireTenantUser): the user's current role is owner or admin. */
export async function requireTenantAdmin(request: FastifyRequest): Promise<void> {
  await requireTenantUser(request);
  const role = request.tenantUser?.role;
  if (role !== 'owner' && role !== 'admin')
    throw new AppError('FORBIDDEN', 'Only owners and admins can manage users');
}

/** The value a guard set on the request; a route without its guard fails loudly instead of running anonymously. */
export function authenticated<T>(value: T | null): T {
  if (value === null) throw new AppError('NOT_AUTHENTICATED');
  return value;
}
