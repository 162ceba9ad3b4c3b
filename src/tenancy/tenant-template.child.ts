/**
 * Child process entry (see db/child-process-job.ts): builds the PGlite tenant template in `dataDir`, a database
 * with every tenant migration applied, shut down cleanly so that copies of the directory are ready to open.
 */
import { Kysely, PostgresDialect } from 'kysely';
import type { PgliteSettings } from '../config.js';
import { runAsChildProcessJob } from '../db/child-process-job.js';
import { createPglitePool, openPglite } from '../db/pools.js';
import type { TenantDatabase } from '../db/tenant-schema.js';
import { ensureTenantSchema } from './tenant-migrations.js';

runAsChildProcessJob<{ dataDir: string; settings: PgliteSettings }>(async ({ dataDir, settings }) => {
  const pglite = await openPglite(settings, { dataDir });
  try {
    const db = new Kysely<TenantDatabase>({
      dialect: new PostgresDialect({ pool: createPglitePool(pglite) }),
    });
    try {
      await ensureTenantSchema(db);
    } finally {
      await db.destroy();
    }
  } finally {
    await pglite.close();
  }
});
