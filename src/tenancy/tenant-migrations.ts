import type { Kysely } from 'kysely';
import { createMigrator, FolderMigrationProvider, migrateToLatest, migrationFolder } from '../db/migrator.js';

let latest: Promise<string> | undefined;

/**
 * The newest tenant migration shipped with this code, e.g. `2026_11_30_0001_initial`: the schema version
 * templates are built at and organizations record.
 */
export function latestTenantMigration(): Promise<string> {
  latest ??= new FolderMigrationProvider(migrationFolder('tenant')).getMigrations().then((migrations) => {
    const names = Object.keys(migrations).sort();
    const last = names[names.length - 1];
    if (last === undefined) throw new Error(`No tenant migrations in ${migrationFolder('tenant')}`);
    return last;
  });
  return latest;
}

/**
 * Brings a tenant database to the latest tenant migration and returns that migration's name. When the
 * database already is there (the normal case: it was copied from an up-to-date template) this only reads
 * the migration table, so provisioning pays no migration run.
 */
export async function ensureTenantSchema<DB>(db: Kysely<DB>): Promise<string> {
  const migrations = await createMigrator(db, 'tenant').getMigrations();
  if (migrations.some((migration) => migration.executedAt === undefined)) {
    await migrateToLatest(db, 'tenant');
  }
  return latestTenantMigration();
}
