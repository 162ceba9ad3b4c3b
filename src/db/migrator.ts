import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  Migrator,
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
} from 'kysely';

/** Which set of migrations: the core database's, or every tenant database's. */
export type MigrationScope = 'core' | 'tenant';

const MIGRATION_FILE = /^\d{4}_\d{2}_\d{2}_\d{4}_[a-z0-9_]+\.(ts|js)$/;

/** Environment variables that point a scope at another folder of migrations (to try a migration on a fleet before shipping it, and in tests). */
export const MIGRATIONS_DIR_ENV: Record<MigrationScope, string> = {
  core: 'TENANTRY_CORE_MIGRATIONS_DIR',
  tenant: 'TENANTRY_TENANT_MIGRATIONS_DIR',
};

/** The folder of a scope's migration files (works from `src/` under tsx and from compiled `dist/`). */
export function migrationFolder(scope: MigrationScope): string {
  const override = process.env[MIGRATIONS_DIR_ENV[scope]];
  if (override) return override.endsWith('/') ? override : `${override}/`;
  return fileURLToPath(new URL(`./migrations/${scope}/`, import.meta.url));
}

/** Loads migration modules from a folder; names are file names without extension, ordered by their timestamp. */
export class FolderMigrationProvider implements MigrationProvider {
  constructor(private readonly folder: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.folder)).filter((file) => MIGRATION_FILE.test(file)).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const module = (await import(pathToFileURL(`${this.folder}${file}`).href)) as Migration;
      migrations[file.replace(/\.(ts|js)$/, '')] = module;
    }
    return migrations;
  }
}

/** Raised when a migration fails; names the migration and keeps the driver's error as `cause`. */
export class MigrationError extends Error {
  constructor(
    readonly scope: MigrationScope,
    readonly migrationName: string | undefined,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${scope} migration ${migrationName ?? '(unknown)'} failed: ${reason}`, { cause });
    this.name = 'MigrationError';
  }
}

/** A Kysely Migrator for one scope. Tenant databases keep their own bookkeeping tables. */
export function createMigrator<DB>(db: Kysely<DB>, scope: MigrationScope): Migrator {
  return new Migrator({
    db: db as Kysely<unknown>,
    provider: new FolderMigrationProvider(migrationFolder(scope)),
    migrationTableName: `tenantry_${scope}_migration`,
    migrationLockTableName: `tenantry_${scope}_migration_lock`,
  });
}

/** Throws a MigrationError when a result set failed; returns the names applied. */
export function assertMigrated(scope: MigrationScope, { error, results }: MigrationResultSet): string[] {
  if (error) {
    const failed = results?.find((result) => result.status === 'Error');
    throw new MigrationError(scope, failed?.migrationName, error);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Brings a database to the latest migration of its scope.
 *
 * @example
 * const applied = await migrateToLatest(db, 'core'); // ['2026_11_29_0001_initial']
 */
export async function migrateToLatest<DB>(db: Kysely<DB>, scope: MigrationScope): Promise<string[]> {
  return assertMigrated(scope, await createMigrator(db, scope).migrateToLatest());
}
