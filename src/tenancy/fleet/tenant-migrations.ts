import { sql, type Kysely, type Migration } from 'kysely';
import { FolderMigrationProvider, migrateToLatest, migrationFolder } from '../../db/migrator.js';
import { SQLSTATE, sqlState } from '../../errors.js';

/** Where `createMigrator(db, 'tenant')` keeps its bookkeeping (see src/db/migrator.ts). */
const MIGRATION_TABLE = 'tenantry_tenant_migration';

let shipped: Promise<string[]> | undefined;

/** Names of the tenant migrations shipped with this code, oldest first. */
function shippedMigrations(): Promise<string[]> {
  shipped ??= tenantMigrationModules().then((migrations) => {
    const names = Object.keys(migrations).sort();
    if (names.length === 0) throw new Error(`No tenant migrations in ${migrationFolder('tenant')}`);
    return names;
  });
  return shipped;
}

/**
 * The newest tenant migration shipped with this code, e.g. `2026_11_30_0001_initial`: the schema version
 * templates are built at and organizations record.
 */
export async function latestTenantMigration(): Promise<string> {
  const names = await shippedMigrations();
  return names[names.length - 1] as string;
}

/** Names of the migrations applied to a tenant database; empty when none ever was. */
async function appliedMigrations<DB>(db: Kysely<DB>): Promise<Set<string>> {
  try {
    const { rows } = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(db);
    return new Set(rows.map((row) => row.name));
  } catch (error) {
    if (sqlState(error) === SQLSTATE.UNDEFINED_TABLE) return new Set();
    throw error;
  }
}

/**
 * Brings a tenant database to the latest tenant migration; returns what it applied and that migration's name.
 * When the database already is there (the normal case: it was copied from an up-to-date template) this is one
 * small query (Kysely's own check introspects every table, which costs several ms on a fresh database),
 * so provisioning pays no migration run.
 */
export async function ensureTenantSchema<DB>(
  db: Kysely<DB>,
): Promise<{ applied: string[]; version: string }> {
  const done = await appliedMigrations(db);
  const behind = (await shippedMigrations()).some((name) => !done.has(name));
  const applied = behind ? await migrateToLatest(db, 'tenant') : [];
  return { applied, version: await latestTenantMigration() };
}

let modules: Promise<Record<string, Migration>> | undefined;

/** The tenant migration modules shipped with this code, by name (loaded once). */
export function tenantMigrationModules(): Promise<Record<string, Migration>> {
  modules ??= new FolderMigrationProvider(migrationFolder('tenant')).getMigrations();
  return modules;
}

/** The table tenant migrations are recorded in (same layout as Kysely's Migrator keeps). */
export const TENANT_MIGRATION_TABLE = MIGRATION_TABLE;
