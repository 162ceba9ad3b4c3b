/**
 * Child process entry (see db/child-process-job.ts): builds a PGlite template in `dataDir`, shut down cleanly so
 * that copies of the directory are ready to open: the tenant template (every tenant migration applied), or with
 * `shared` the template of shared databases (empty, nothing granted to PUBLIC on `public`).
 */
import { Kysely, PostgresDialect } from 'kysely';
import type { PgliteSettings } from '../../config.js';
import { runAsChildProcessJob } from '../../db/child-process-job.js';
import { SHARED_DATABASE_HARDENING } from './shared-database-hardening.js';
import { createPglitePool, openPglite } from '../../db/pools.js';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import { ensureTenantSchema } from '../fleet/tenant-migrations.js';

interface TemplateJob {
  dataDir: string;
  settings: PgliteSettings;
  shared?: boolean;
}

runAsChildProcessJob<TemplateJob>(async ({ dataDir, settings, shared }) => {
  const pglite = await openPglite(settings, { dataDir });
  try {
    if (shared) {
      await pglite.exec(SHARED_DATABASE_HARDENING);
      return;
    }
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
