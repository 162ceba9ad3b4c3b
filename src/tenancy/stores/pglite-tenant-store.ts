import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { FastifyBaseLogger } from 'fastify';
import type { PgliteSettings } from '../../config.js';
import { Kysely, PostgresDialect } from 'kysely';
import { acquireDirLock } from '../../db/dir-lock.js';
import { runChildProcessJob, siblingModule } from '../../db/child-process-job.js';
import { createPglitePool, openPglite } from '../../db/pools.js';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import { HandleRegistry } from './handle-registry.js';
import { KeyedMutex } from './keyed-mutex.js';
import { latestTenantMigration } from '../fleet/tenant-migrations.js';
import { PGLITE_SERVER } from '../placement/placement.js';
import {
  PGLITE_TENANT_NAME,
  pgliteSharedName,
  pgliteSharedNumber,
  pgliteTenantName,
  SharedTenantNames,
} from '../placement/placement-names.js';
import { TenantDatabaseMissingError, TenantNamingError } from './tenant-store-errors.js';
import type { TenantDbHandle, TenantStore } from './tenant-store.js';

/** Mutex key for copying the template; tenant names are digits, so it never collides with one. */
const COPY_SLOT = 'copy';
/** Temporary entries (half-made or half-dropped tenants, half-written templates) start with this. */
const TMP = '.tmp-';
/** The template of shared databases: an empty database, copied for each new one. */
const SHARED_TEMPLATE = '.shared-template-2';
/** Prefix of role names; an embedded database's roles are its own, so no deployment prefix is needed. */
const ROLE_PREFIX = 'tenantry';

export interface PgliteTenantStoreOptions {
  dataDir: string;
  /** How every instance the store opens is started (memory). */
  settings: PgliteSettings;
  log: FastifyBaseLogger;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

function assertName(name: string): string {
  if (!PGLITE_TENANT_NAME.test(name)) throw new TenantNamingError(`"${name}" is not a tenant database name`);
  return name;
}

/**
 * Tenant databases as PGlite data directories, `DATA_DIR/tenants/<orgId>`, each with its lock file.
 *
 * New tenants are file copies of a migrated template database, `tenants/.template-<latest migration>/` (a
 * PGlite data directory, shut down cleanly; rebuilt when the migrations change), instead of running initdb and the
 * migrations (~1.7–3 s for initdb alone, bench/provisioning.ts). Copying the closed directory starts no PGlite
 * instance: the earlier way (loading a tar dump of it into a new instance, then closing it) kept the 41 MB dump in
 * memory for the server's lifetime and left an instance's worth of garbage (~40–80 MB of RSS) per sign-up.
 * A tenant is copied into `tenants/.tmp-<orgId>-<random>` and renamed into place, so a crash never leaves
 * a half-made database under a tenant's name.
 */
export class PgliteTenantStore implements TenantStore {
  readonly engine = 'pglite' as const;
  readonly server = PGLITE_SERVER;
  readonly sharedNames = new SharedTenantNames(ROLE_PREFIX);
  /** `DATA_DIR/tenants`. */
  readonly root: string;
  private readonly log: FastifyBaseLogger;
  private readonly settings: PgliteSettings;
  private readonly mutex = new KeyedMutex();
  private readonly registry = new HandleRegistry();
  private readonly inUse = new Set<string>();
  /** The template directory for the latest migration, once it is on disk. */
  private template: Promise<string> | undefined;
  /** The shared databases' template directory, once it is on disk. */
  private sharedTemplate: Promise<string> | undefined;

  constructor(options: PgliteTenantStoreOptions) {
    this.root = join(options.dataDir, 'tenants');
    this.log = options.log;
    this.settings = options.settings;
  }

  databaseName(orgId: number): string {
    return pgliteTenantName(orgId);
  }

  async prepare(): Promise<void> {
    await this.templateDir();
  }

  sharedDatabaseName(n: number): string {
    return pgliteSharedName(n);
  }

  sharedDatabaseNumber(name: string): number | null {
    return pgliteSharedNumber(name);
  }

  async ensureSharedDatabase(name: string): Promise<void> {
    if (pgliteSharedNumber(name) === null)
      throw new TenantNamingError(`"${name}" is not a shared database name`);
    await this.mutex.run(name, async () => {
      if (await this.isDirectory(this.dir(name))) return;
      this.sharedTemplate ??= this.ensureSharedTemplate().catch((error: unknown) => {
        this.sharedTemplate = undefined;
        throw error;
      });
      const template = await this.sharedTemplate;
      await this.mutex.run(COPY_SLOT, () => this.copyTemplate(name, template));
      this.log.info({ database: name }, 'shared tenant database created');
    });
  }

  async listSharedDatabases(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch((error: unknown) => {
      if (isMissing(error)) return [];
      throw error;
    });
    return entries
      .filter((entry) => entry.isDirectory() && pgliteSharedNumber(entry.name) !== null)
      .map((entry) => entry.name)
      .sort((a, b) => (pgliteSharedNumber(a) ?? 0) - (pgliteSharedNumber(b) ?? 0));
  }

  async create(name: string): Promise<void> {
    assertName(name);
    const template = await this.templateDir();
    await this.mutex.run(name, async () => {
      if (await this.exists(name)) return;
      // One copy at a time: copies compete for the same disk, so parallel ones would not finish sooner.
      await this.mutex.run(COPY_SLOT, () => this.copyTemplate(name, template));
    });
  }

  async exists(name: string): Promise<boolean> {
    return this.isDirectory(this.dir(pgliteSharedNumber(name) === null ? assertName(name) : name));
  }

  private async isDirectory(path: string): Promise<boolean> {
    try {
      return (await stat(path)).isDirectory();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** Builds the shared databases' template once (initdb in a child process, ~2 s), unless it is on disk. */
  private async ensureSharedTemplate(): Promise<string> {
    await mkdir(this.root, { recursive: true });
    const dir = join(this.root, SHARED_TEMPLATE);
    if (await this.isDirectory(dir)) return dir;
    const partial = `${dir}${TMP}${randomBytes(4).toString('hex')}`;
    try {
      await runChildProcessJob(siblingModule(import.meta.url, 'tenant-template.child'), {
        dataDir: partial,
        settings: this.settings,
        shared: true,
      });
      await rename(partial, dir);
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
    // Shared templates of earlier releases.
    for (const entry of await readdir(this.root)) {
      if (entry.startsWith('.shared-template') && entry !== SHARED_TEMPLATE && !entry.includes(TMP)) {
        await rm(join(this.root, entry), { recursive: true, force: true });
      }
    }
    return dir;
  }

  async drop(name: string): Promise<void> {
    assertName(name);
    await this.mutex.run(name, async () => {
      await this.registry.closeAll(name);
      if (!(await this.exists(name))) return;
      // Throws if another live process has it open.
      const release = acquireDirLock(this.lockFile(name));
      try {
        // Renamed first: a crash mid-delete leaves a `.tmp-` leftover (removed by the next prepare()),
        // never a half-deleted database under a tenant's name.
        const doomed = join(this.root, `${TMP}${name}-drop-${randomBytes(4).toString('hex')}`);
        await rename(this.dir(name), doomed);
        await rm(doomed, { recursive: true, force: true });
      } finally {
        release();
      }
    });
  }

  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries
        .filter((entry) => entry.isDirectory() && PGLITE_TENANT_NAME.test(entry.name))
        .map((entry) => entry.name)
        .sort((a, b) => Number(a) - Number(b));
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
  }

  /** PGlite has a single connection per instance, so `maxConnections` does not apply. */
  async open(name: string): Promise<TenantDbHandle> {
    if (pgliteSharedNumber(name) === null) assertName(name);
    return this.mutex.run(name, async () => {
      // PGlite would initdb an empty, unmigrated database in a missing directory: refuse instead.
      if (!(await this.exists(name))) throw new TenantDatabaseMissingError(name);
      if (this.registry.has(name)) {
        throw new Error(
          `Tenant database "${name}" is already open in this process (one PGlite instance per directory)`,
        );
      }
      const release = acquireDirLock(this.lockFile(name));
      let pglite: PGlite;
      try {
        pglite = await openPglite(this.settings, { dataDir: this.dir(name) });
      } catch (error) {
        release();
        throw error;
      }
      const db = new Kysely<TenantDatabase>({
        dialect: new PostgresDialect({ pool: createPglitePool(pglite) }),
      });
      return this.registry.track(name, db, async () => {
        try {
          await db.destroy();
          await pglite.close();
        } finally {
          release();
        }
      });
    });
  }

  async close(): Promise<void> {
    await this.registry.closeEverything();
    this.template = undefined;
  }

  private dir(name: string): string {
    return join(this.root, name);
  }

  private lockFile(name: string): string {
    return join(this.root, `${name}.lock`);
  }

  private templateDir(): Promise<string> {
    this.template ??= this.ensureTemplate().catch((error: unknown) => {
      this.template = undefined;
      throw error;
    });
    return this.template;
  }

  private async ensureTemplate(): Promise<string> {
    await mkdir(this.root, { recursive: true });
    await this.removeLeftovers();
    const latest = await latestTenantMigration();
    const dir = join(this.root, `.template-${latest}`);
    try {
      await stat(dir);
    } catch (error) {
      if (!isMissing(error)) throw error;
      await this.buildTemplate(dir, latest);
    }
    return dir;
  }

  /**
   * initdb + migrations into `dir` (built aside and renamed, so never half-made). In a child process: a build
   * peaks at ~800 MB for 10–30 s, which would otherwise linger in the server as garbage.
   */
  private async buildTemplate(dir: string, version: string): Promise<void> {
    const started = performance.now();
    const partial = `${dir}${TMP}${randomBytes(4).toString('hex')}`;
    try {
      await runChildProcessJob(siblingModule(import.meta.url, 'tenant-template.child'), {
        dataDir: partial,
        settings: this.settings,
      });
      await rename(partial, dir);
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
    // Templates of other migrations, and the tar dumps of earlier releases.
    for (const entry of await readdir(this.root)) {
      if (entry.startsWith('.template-') && join(this.root, entry) !== dir) {
        await rm(join(this.root, entry), { recursive: true, force: true });
      }
    }
    this.log.info({ version, totalMs: Math.round(performance.now() - started) }, 'tenant template built');
  }

  private async copyTemplate(name: string, template: string): Promise<void> {
    const release = acquireDirLock(this.lockFile(name));
    const tmp = join(this.root, `${TMP}${name}-${randomBytes(4).toString('hex')}`);
    this.inUse.add(tmp);
    try {
      const started = performance.now();
      await cp(template, tmp, { recursive: true });
      await rename(tmp, this.dir(name));
      this.log.debug(
        { database: name, ms: Math.round(performance.now() - started) },
        'tenant database copied',
      );
    } finally {
      this.inUse.delete(tmp);
      await rm(tmp, { recursive: true, force: true });
      release();
    }
  }

  /** Temporary entries left by a crash: nothing else can be using them, since only we write here. */
  private async removeLeftovers(): Promise<void> {
    for (const entry of await readdir(this.root)) {
      const path = join(this.root, entry);
      if (entry.includes(TMP) && !this.inUse.has(path)) {
        this.log.info({ path }, 'removing leftover of an interrupted tenant operation');
        await rm(path, { recursive: true, force: true });
      }
    }
  }
}
