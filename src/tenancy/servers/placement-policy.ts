import { AppError } from '../../errors.js';
import type { ServerAddress } from '../placement/placement.js';
import type { TenantServer } from './tenant-server.js';

/**
 * The server a new organization goes to: among the `active` servers (a `draining` one keeps its tenants and
 * receives none), the one with the fewest live tenants per unit of weight; ties go to the name that sorts first.
 * `tenants` counts live tenants by recorded server address (null: rows from before servers were recorded, which
 * are on the configured server, `fallback`).
 *
 * @example
 * pickServer(servers, new Map([['postgres://a:5432', 4], ['postgres://b:5432', 1]]), fallback);
 * // b (weight 1 each); a server of weight 4 with 4 tenants would tie with b, and win if its name sorts first
 * @throws AppError SERVICE_UNAVAILABLE when every server is draining
 */
export function pickServer(
  servers: readonly TenantServer[],
  tenants: ReadonlyMap<string | null, number>,
  fallback: ServerAddress,
): TenantServer {
  const countOf = (server: TenantServer) =>
    (tenants.get(server.address) ?? 0) + (server.address === fallback ? (tenants.get(null) ?? 0) : 0);
  let best: TenantServer | undefined;
  let bestLoad = Infinity;
  for (const server of [...servers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (server.state !== 'active') continue;
    const load = countOf(server) / server.weight;
    if (load < bestLoad) {
      best = server;
      bestLoad = load;
    }
  }
  if (!best) {
    throw new AppError('SERVICE_UNAVAILABLE', 'No tenant server accepts new tenants (all are draining)', {
      headers: { 'retry-after': '60' },
    });
  }
  return best;
}
