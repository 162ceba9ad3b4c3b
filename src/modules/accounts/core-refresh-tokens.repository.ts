import type { CoreDatabase } from '../../db/core-schema.js';
import { RefreshTokensTableRepository } from '../shared/refresh-tokens-table.js';

/**
 * The core's `refresh_tokens` (core accounts' sessions); its SQL is shared with the tenants' table.
 *
 * @example
 * const refresh = new RefreshTokenFamilies(new CoreRefreshTokensRepository(), config.refreshTokenExpireDays);
 */
export class CoreRefreshTokensRepository extends RefreshTokensTableRepository<CoreDatabase> {
  constructor() {
    super('refresh_tokens');
  }
}
