import { AppError } from '../../errors.js';

/** Slugs as the contract defines them. */
export const SLUG_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;
// Canonical decimal ids only: `42`, never `042`, `+42` or ` 42`; bounded to PostgreSQL's integer range.
const ID_PATTERN = /^[1-9][0-9]{0,9}$/;
const MAX_ID = 2_147_483_647;

export type TenantRef = { kind: 'id'; id: number } | { kind: 'slug'; slug: string };

/**
 * Parses an X-TENANT value into an id or a slug. Anything else is 400 TENANT_INVALID, so odd casing,
 * whitespace, leading zeros and look-alike characters never reach a database lookup.
 */
export function parseTenantHeader(value: string): TenantRef {
  if (ID_PATTERN.test(value)) {
    const id = Number(value);
    if (id <= MAX_ID) return { kind: 'id', id };
  }
  if (SLUG_PATTERN.test(value)) return { kind: 'slug', slug: value };
  throw new AppError('TENANT_INVALID');
}

/** The X-TENANT header of a request: undefined when absent or empty (core context). Repeated headers are malformed. */
export function tenantHeaderValue(raw: string | string[] | undefined): string | undefined {
  if (Array.isArray(raw)) throw new AppError('TENANT_INVALID', 'X-TENANT must be given once');
  return raw === undefined || raw === '' ? undefined : raw;
}
