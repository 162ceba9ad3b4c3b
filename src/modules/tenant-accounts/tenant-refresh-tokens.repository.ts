import type { TenantDatabase } from '../../db/tenant-schema.js';
import { RefreshTokensTableRepository } from '../shared/refresh-tokens-table.js';

/**
 * A tenant's `tenant_refresh_tokens` (tenant users' sessions); its SQL is shared with the core's table.
 *
 * @example
 * const refresh = new RefreshTokenFamilies(new TenantRefreshTokensRepository(), config.refreshTokenExpireDays);
 */
export class TenantRefreshTokensRepository extends RefreshTokensTableRepository<TenantDatabase> {
  constructor() {
    super('tenant_refresh_tokens');
  }
}
