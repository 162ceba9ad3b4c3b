import { AppError } from '../../errors.js';
import { assertUsable, type ResolvedTenant } from './tenant-resolver.js';

/** Organizations on their way out: their subdomain or custom domain selects nothing, as an unknown one. */
const GONE: ReadonlySet<ResolvedTenant['status']> = new Set(['deleting', 'deleted']);

/**
 * The one tenant a request runs in, from what its host selected and what its X-TENANT names (each already
 * looked up; `fromHeader` undefined when the request has no X-TENANT):
 *
 * - neither: none (the core plane);
 * - the host only: its organization (an unknown or deleted one: none, as if there were no host);
 * - X-TENANT only: its organization, exactly as without host routing (404/403/503 as the contract says);
 * - both, naming two different organizations: 400 TENANT_CONFLICT, never one of them silently. Naming the same
 *   one (by slug or by id) is fine; an X-TENANT naming no organization is 404 as always.
 *
 * @example
 * selectTenant(acme, { tenant: globex }); // throws AppError('TENANT_CONFLICT')
 */
export function selectTenant(
  fromHost: ResolvedTenant | null,
  fromHeader: { tenant: ResolvedTenant | null } | undefined,
): ResolvedTenant | null {
  const host = fromHost && !GONE.has(fromHost.status) ? fromHost : null;
  if (fromHeader === undefined) return host && assertUsable(host);
  const named = fromHeader.tenant;
  if (host && named && named.id !== host.id) throw new AppError('TENANT_CONFLICT');
  return assertUsable(named);
}
