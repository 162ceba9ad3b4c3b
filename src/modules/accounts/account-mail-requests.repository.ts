import type { Kysely, Transaction } from 'kysely';
import type { CoreDatabase, EmailTokenPurpose } from '../../db/core-schema.js';

export interface AccountMailRequest {
  id: number;
  kind: EmailTokenPurpose;
  email: string;
}

/**
 * Requests for a verification or password reset email, by address. Recording one is the only work the API does
 * before answering 202, the same for known and unknown addresses; the background sender looks the account up.
 */
export class AccountMailRequestsRepository {
  constructor(private readonly db: Kysely<CoreDatabase>) {}

  /** Records a request durably (committed when this returns). */
  async insert(kind: EmailTokenPurpose, email: string): Promise<void> {
    await this.db.insertInto('account_mail_requests').values({ kind, email }).execute();
  }

  /**
   * Up to `limit` oldest requests, locked until `trx` ends; rows other processes hold are skipped, so several
   * senders share the work without waiting on each other.
   */
  claim(trx: Transaction<CoreDatabase>, limit: number): Promise<AccountMailRequest[]> {
    return trx
      .selectFrom('account_mail_requests')
      .select(['id', 'kind', 'email'])
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
  }

  async delete(trx: Transaction<CoreDatabase>, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await trx
      .deleteFrom('account_mail_requests')
      .where('id', 'in', [...ids])
      .execute();
  }
}
