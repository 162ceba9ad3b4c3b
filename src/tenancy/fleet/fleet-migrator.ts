import { NO_MIGRATIONS, sql } from 'kysely';
import type { CoreDb } from '../../db/core-database.js';
import type { Organization } from '../../db/core-schema.js';
import {
  MIGRATABLE,
  type MigrationRecord,
  type OrganizationsRepository,
} from '../../modules/organizations/organizations.repository.js';
import { assertMigrated, createMigrator, migrateToLatest } from '../../db/migrator.js';
import { latestTenantMigration } from './tenant-migrations.js';
import { parseTenantHeader } from '../routing/tenant-header.js';
import { placementFromRow, type TenantPlacement } from '../placement/placement.js';
import type { TenantStorage } from '../placement/tenant-storage.js';
import type { TenantStore } from '../stores/tenant-store.js';

/** Session advisory lock key held by a fleet run on PostgreSQL: "tenantry" in ASCII, read as a bigint. */
const FLEET_LOCK_KEY = '8387229622868211321';
const MAX_ERROR_LENGTH = 2_000;

/** Another fleet run holds the lock. */
export class FleetLockedError extends Error {
  constructor() {
    super(
      'Another `tenantry migrate` is already running against this core database; try again when it ends.',
    );
    this.name = 'FleetLockedError';
  }
}

export interface TenantOutcome {
  id: number;
  slug: string;
  ok: boolean;
  error?: string;
  ms: number;
}

export interface FleetReport {
  core: { applied: string[] };
  latest: string;
  /** Tenants that were behind and are now at `latest`. */
  migrated: number[];
  /** Tenants already at `latest`: skipped without opening a connection. */
  skipped: number;
  failed: { id: number; slug: string; error: string }[];
  /** Tenants that would run (dry run only). */
  planned: { id: number; slug: string; from: string | null }[];
  /**
   * Servers whose template could not be brought to `latest` (unreachable, say): their tenants are still tried
   * (and recorded failed if the server is down), and new tenants there are migrated as they are provisioned.
   */
  templatesFailed: { server: string; error: string }[];
  durationMs: number;
}

export interface FleetMigrateOptions {
  /** Tenants migrated at once (each holds one connection while it runs). */
  concurrency?: number;
  /** Only this organization (id or slug). */
  tenant?: string;
  /** List what would run, change nothing. */
  dryRun?: boolean;
  /** Called once per tenant as it finishes. */
  onTenant?: (outcome: TenantOutcome, done: number, total: number) => void;
}

export interface FleetStatus {
  core: { applied: string[]; pending: string[] };
  latest: string;
  groups: { schema_version: string | null; migration_state: string | null; status: string; count: number }[];
  behind: number;
  failed: {
    id: number;
    slug: string;
    schema_version: string | null;
    error: string | null;
    at: string | null;
  }[];
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.slice(0, MAX_ERROR_LENGTH);
}

/** Runs `work` over `items` with at most `concurrency` in flight, in order of `items`. */
async function eachLimited<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}

/**
 * Migrates the core, the tenant template and every tenant that is behind. The core database records each
 * organization's schema version and the outcome of its last migration, so tenants already at the latest
 * version are skipped without a connection (a no-op run over thousands of tenants is one query), a failing
 * tenant is recorded and the run goes on, and a rerun resumes exactly what is still behind.
 *
 * @example
 * const report = await new FleetMigrator(core, storage, organizations).migrate({ concurrency: 8 });
 * if (report.failed.length) process.exitCode = 1;
 */
export class FleetMigrator {
  private readonly store: TenantStore;

  constructor(
    private readonly core: CoreDb,
    private readonly storage: TenantStorage,
    private readonly orgs: OrganizationsRepository,
  ) {
    this.store = storage.store;
  }

  /**
   * Holds the fleet lock for the duration of `fn`: a PostgreSQL session advisory lock on the core database.
   * (An embedded core is already exclusive to one process by its directory lock.)
   */
  private async exclusively<T>(fn: () => Promise<T>): Promise<T> {
    if (this.core.engine === 'pglite') return fn();
    return this.core.db.connection().execute(async (connection) => {
      const { rows } = await sql<{
        locked: boolean;
      }>`select pg_try_advisory_lock(${FLEET_LOCK_KEY}::bigint) as locked`.execute(connection);
      if (!rows[0]?.locked) throw new FleetLockedError();
      try {
        return await fn();
      } finally {
        await sql`select pg_advisory_unlock(${FLEET_LOCK_KEY}::bigint)`.execute(connection);
      }
    });
  }

  private organizations(tenant: string | undefined): Promise<Organization[]> {
    return this.orgs.listMigratable(tenant === undefined ? undefined : parseTenantHeader(tenant));
  }

  /** Core migrations, then the template, then every tenant behind; see the class comment. */
  migrate(options: FleetMigrateOptions = {}): Promise<FleetReport> {
    return this.exclusively(async () => {
      const started = performance.now();
      const applied = options.dryRun ? [] : await migrateToLatest(this.core.unbounded, 'core');
      // Every server's template to the latest tenant migration; one server down does not stop the others.
      const templatesFailed = options.dryRun ? [] : await this.prepareTemplates();
      const latest = await latestTenantMigration();
      const candidates = await this.organizations(options.tenant);
      if (options.tenant !== undefined && candidates.length === 0) {
        throw new Error(`No active or suspended organization "${options.tenant}"`);
      }
      const behind = candidates.filter(
        (org) => org.schema_version !== latest || org.migration_state !== 'ok',
      );
      const report: FleetReport = {
        core: { applied },
        latest,
        migrated: [],
        skipped: candidates.length - behind.length,
        failed: [],
        planned: [],
        templatesFailed,
        durationMs: 0,
      };
      if (options.dryRun) {
        report.planned = behind.map((org) => ({ id: org.id, slug: org.slug, from: org.schema_version }));
      } else {
        let done = 0;
        await eachLimited(behind, options.concurrency ?? this.defaultConcurrency(), async (org) => {
          const outcome = await this.migrateTenant(org, latest);
          if (outcome.ok) report.migrated.push(org.id);
          else report.failed.push({ id: org.id, slug: org.slug, error: outcome.error ?? 'failed' });
          options.onTenant?.(outcome, ++done, behind.length);
        });
        report.migrated.sort((a, b) => a - b);
        report.failed.sort((a, b) => a.id - b.id);
      }
      report.durationMs = Math.round(performance.now() - started);
      return report;
    });
  }

  private async prepareTemplates(): Promise<FleetReport['templatesFailed']> {
    const failed: FleetReport['templatesFailed'] = [];
    for (const store of await this.storage.stores.all()) {
      try {
        await store.prepare();
      } catch (error) {
        // The configured server is where the single-server setup lives: its failure stays fatal, as before.
        if (store === this.store) throw error;
        failed.push({ server: store.server, error: errorText(error) });
      }
    }
    return failed;
  }

  /** PGlite runs every instance on this one thread, and each costs ~100 MB: one at a time. */
  defaultConcurrency(): number {
    return this.store.engine === 'pglite' ? 1 : 8;
  }

  private async migrateTenant(org: Organization, latest: string): Promise<TenantOutcome> {
    const started = performance.now();
    try {
      await this.storage.migrate(this.placementOf(org), org.id);
      await this.record(org.id, { schema_version: latest, migration_state: 'ok', migration_error: null });
      return { id: org.id, slug: org.slug, ok: true, ms: Math.round(performance.now() - started) };
    } catch (error) {
      const text = errorText(error);
      await this.record(org.id, { migration_state: 'failed', migration_error: text });
      return {
        id: org.id,
        slug: org.slug,
        ok: false,
        error: text,
        ms: Math.round(performance.now() - started),
      };
    }
  }

  private placementOf(org: Organization): TenantPlacement {
    const placement = placementFromRow(org, this.store.server);
    if (!placement) throw new Error('organization has no placement');
    return placement;
  }

  private record(orgId: number, values: MigrationRecord): Promise<void> {
    return this.orgs.recordMigration(orgId, values);
  }

  /**
   * Rolls tenants back one migration, or to `to` (a migration name, or "none" for an empty schema), and
   * records where each ended. The template is left at the code's latest migration: deploy the code that
   * matches before creating organizations.
   */
  rollbackTenants(
    options: {
      tenant?: string;
      to?: string;
      concurrency?: number;
      onTenant?: FleetMigrateOptions['onTenant'];
    } = {},
  ) {
    return this.exclusively(async () => {
      const started = performance.now();
      const orgs = await this.organizations(options.tenant);
      const rolledBack: { id: number; slug: string; version: string | null }[] = [];
      const failed: { id: number; slug: string; error: string }[] = [];
      let done = 0;
      await eachLimited(orgs, options.concurrency ?? this.defaultConcurrency(), async (org) => {
        const began = performance.now();
        try {
          const version = await this.storage.rollback(this.placementOf(org), org.id, options.to);
          await this.record(org.id, {
            schema_version: version,
            migration_state: 'ok',
            migration_error: null,
          });
          rolledBack.push({ id: org.id, slug: org.slug, version });
          options.onTenant?.(
            { id: org.id, slug: org.slug, ok: true, ms: Math.round(performance.now() - began) },
            ++done,
            orgs.length,
          );
        } catch (error) {
          const text = errorText(error);
          await this.record(org.id, { migration_state: 'failed', migration_error: text });
          failed.push({ id: org.id, slug: org.slug, error: text });
          options.onTenant?.(
            { id: org.id, slug: org.slug, ok: false, error: text, ms: Math.round(performance.now() - began) },
            ++done,
            orgs.length,
          );
        }
      });
      rolledBack.sort((a, b) => a.id - b.id);
      failed.sort((a, b) => a.id - b.id);
      return { rolledBack, failed, durationMs: Math.round(performance.now() - started) };
    });
  }

  /** Rolls the core back one migration, or to `to`; returns the names rolled back. */
  rollbackCore(options: { to?: string } = {}): Promise<string[]> {
    return this.exclusively(async () => {
      const migrator = createMigrator(this.core.unbounded, 'core');
      const result =
        options.to === undefined
          ? await migrator.migrateDown()
          : await migrator.migrateTo(options.to === 'none' ? NO_MIGRATIONS : options.to);
      assertMigrated('core', result);
      return (result.results ?? [])
        .filter((r) => r.direction === 'Down' && r.status === 'Success')
        .map((r) => r.migrationName);
    });
  }

  /** Core version, tenants grouped by version and state, and the failed ones. Opens no tenant database. */
  async status(): Promise<FleetStatus> {
    const coreMigrations = await createMigrator(this.core.db, 'core').getMigrations();
    const latest = await latestTenantMigration();
    const groups = await this.orgs.migrationGroups();
    const failed = await this.orgs.listMigrationFailures();
    return {
      core: {
        applied: coreMigrations.filter((m) => m.executedAt !== undefined).map((m) => m.name),
        pending: coreMigrations.filter((m) => m.executedAt === undefined).map((m) => m.name),
      },
      latest,
      groups,
      behind: groups
        .filter(
          (g) =>
            (MIGRATABLE as readonly string[]).includes(g.status) &&
            (g.schema_version !== latest || g.migration_state !== 'ok'),
        )
        .reduce((sum, g) => sum + Number(g.count), 0),
      failed: failed.map((row) => ({
        id: row.id,
        slug: row.slug,
        schema_version: row.schema_version,
        error: row.migration_error,
        at: row.migrated_at?.toISOString() ?? null,
      })),
    };
  }
}
