import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createServerPool } from '../../db/pools.js';
import { boundedPool, checkoutBounded, queryBounded, type BoundedClient } from '../../db/query-deadline.js';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import { SQLSTATE, sqlState } from '../../errors.js';
import { HandleRegistry } from './handle-registry.js';
import { KeyedMutex } from './keyed-mutex.js';
import { ensureTenantSchema, latestTenantMigration } from '../fleet/tenant-migrations.js';
import { serverAddressOf, type ServerAddress } from '../placement/placement.js';
import {
  databaseNameFromUrl,
  PostgresTenantNames,
  quoteIdent,
  SharedTenantNames,
  urlForDatabase,
} from '../placement/placement-names.js';
import { SHARED_DATABASE_HARDENING } from './shared-database-hardening.js';
import { MissingPrivilegeError, TenantNamingError } from './tenant-store-errors.js';
import type { OpenOptions, TenantDbHandle, TenantStore } from './tenant-store.js';

/** SQLSTATE object_in_use: CREATE DATABASE … TEMPLATE while someone is connected to the template. */
const OBJECT_IN_USE = '55006';
const IN_USE_ATTEMPTS = 5;
/** The template's COMMENT records the migration it is at, readable without connecting to it. */
const TEMPLATE_MARKER = 'tenantry tenant template at ';
const TEMPLATE = 'template';

export interface PostgresTenantStoreOptions {
  /** The core database: its name prefixes every tenant database name. */
  coreDatabaseUrl: string;
  /** The server (and maintenance database) tenant databases are created on. */
  serverUrl: string;
  log: FastifyBaseLogger;
  /**
   * Bound on each statement of creating, dropping and opening (for provisioning) tenant databases, waits for the
   * template lock included; past it the connection is cut and the caller gets a 503. 0 (the default): unbounded.
   * Template and tenant migrations are never bounded.
   */
  statementTimeoutMs?: number;
}

/** A signed 64-bit advisory-lock key from a string, stable across processes and versions. */
function advisoryKey(text: string): string {
  return createHash('sha256').update(text).digest().readBigInt64BE(0).toString();
}

/**
 * Tenant databases on a PostgreSQL server, each `CREATE DATABASE … TEMPLATE <core>_tenant_template`.
 *
 * The template is kept at the latest tenant migration (its COMMENT says which) and with
 * `ALLOW_CONNECTIONS false`, so no stray session can block copies. Across processes, copies take a shared
 * advisory lock and template migration an exclusive one; within the process every template use is
 * serialized; a copy that still meets SQLSTATE 55006 is retried briefly.
 */
export class PostgresTenantStore implements TenantStore {
  readonly engine = 'postgres' as const;
  readonly server: ServerAddress;
  readonly sharedNames: SharedTenantNames;
  private readonly names: PostgresTenantNames;
  private readonly log: FastifyBaseLogger;
  /** The maintenance connection for CREATE/DROP DATABASE; it never connects to the template or a tenant. */
  private readonly admin: pg.Pool;
  private readonly statementTimeoutMs: number;
  private readonly registry = new HandleRegistry();
  private readonly templateMutex = new KeyedMutex();
  private readonly lockKey: string;
  /** Shared databases known to exist (they are never dropped by the store). */
  private readonly sharedSeen = new Set<string>();
  private prepared = false;
  private preparing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: PostgresTenantStoreOptions) {
    this.names = new PostgresTenantNames(databaseNameFromUrl(options.coreDatabaseUrl));
    this.server = serverAddressOf(options.serverUrl);
    this.sharedNames = new SharedTenantNames(this.names.coreDatabase);
    this.log = options.log;
    this.lockKey = advisoryKey(`tenantry:${this.names.template}`);
    this.admin = createServerPool(options.serverUrl, { max: 2, application_name: 'tenantry-tenants' });
    this.statementTimeoutMs = options.statementTimeoutMs ?? 0;
  }

  /** One statement on the maintenance connection, within `statementTimeoutMs`. */
  private adminQuery<R extends pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return queryBounded<R>(this.admin, this.statementTimeoutMs, text, values);
  }

  databaseName(orgId: number): string {
    return this.names.tenant(orgId);
  }

  sharedDatabaseName(n: number): string {
    return this.names.shared(n);
  }

  sharedDatabaseNumber(name: string): number | null {
    return this.names.sharedNumber(name);
  }

  async ensureSharedDatabase(name: string): Promise<void> {
    if (this.names.sharedNumber(name) === null) {
      throw new TenantNamingError(`"${name}" is not a shared database name`);
    }
    if (this.sharedSeen.has(name)) return;
    // One at a time in this process: concurrent first tenants of a new shared database all find it missing.
    await this.templateMutex.run(`shared:${name}`, async () => {
      const { rowCount } = await this.adminQuery('select 1 from pg_database where datname = $1', [name]);
      if (rowCount === 1) {
        this.sharedSeen.add(name);
        return;
      }
      // From template0: nothing an operator added to template1 ends up next to the tenants.
      await this.adminQuery(`create database ${quoteIdent(name)} template template0`).catch(
        (error: unknown) => {
          const state = sqlState(error);
          if (state !== SQLSTATE.DUPLICATE_DATABASE && state !== SQLSTATE.UNIQUE_VIOLATION) throw error;
        },
      );
      // Tenants' roles see only their own schema: nothing in `public` for anyone. Under a lock, since another
      // process may be doing the same (concurrent REVOKEs of one schema fail with "tuple concurrently updated").
      const client = new pg.Client({ connectionString: urlForDatabase(this.options.serverUrl, name) });
      await client.connect();
      try {
        await client.query('begin');
        await client.query('select pg_advisory_xact_lock($1)', [advisoryKey(`tenantry:${name}:public`)]);
        await client.query(SHARED_DATABASE_HARDENING);
        await client.query('commit');
      } finally {
        await client.end();
      }
      this.sharedSeen.add(name);
      this.log.info({ database: name }, 'shared tenant database created');
    });
  }

  async listSharedDatabases(): Promise<string[]> {
    const prefix = `${this.names.coreDatabase}_shared_`;
    const { rows } = await this.adminQuery<{ datname: string }>(
      'select datname from pg_database where left(datname, length($1)) = $1',
      [prefix],
    );
    return rows
      .map((row) => row.datname)
      .filter((name) => this.names.sharedNumber(name) !== null)
      .sort((a, b) => (this.names.sharedNumber(a) ?? 0) - (this.names.sharedNumber(b) ?? 0));
  }

  async prepare(): Promise<void> {
    await this.checkPrivilege();
    await this.templateMutex.run(TEMPLATE, () =>
      this.withTemplateLock('exclusive', (client) => this.updateTemplate(client)),
    );
    this.prepared = true;
  }

  async create(name: string): Promise<void> {
    this.names.assertTenant(name);
    if (!this.prepared) {
      this.preparing ??= this.prepare().finally(() => (this.preparing = undefined));
      await this.preparing;
    }
    await this.templateMutex.run(TEMPLATE, () =>
      this.withTemplateLock('shared', (client) => this.copyTemplate(client, name)),
    );
  }

  async exists(name: string): Promise<boolean> {
    this.names.assertTenant(name);
    const { rowCount } = await this.adminQuery('select 1 from pg_database where datname = $1', [name]);
    return rowCount === 1;
  }

  async drop(name: string): Promise<void> {
    this.names.assertTenant(name);
    await this.registry.closeAll(name);
    // FORCE terminates other sessions (other processes' pools) instead of failing with 55006.
    await this.adminQuery(`drop database if exists ${quoteIdent(name)} with (force)`);
  }

  async list(): Promise<string[]> {
    const prefix = `${this.names.coreDatabase}_tenant_`;
    const { rows } = await this.adminQuery<{ datname: string }>(
      'select datname from pg_database where left(datname, length($1)) = $1 order by datname',
      [prefix],
    );
    return rows.map((row) => row.datname).filter((name) => this.names.isTenant(name));
  }

  async open(name: string, options: OpenOptions = {}): Promise<TenantDbHandle> {
    if (this.names.sharedNumber(name) === null) this.names.assertTenant(name);
    const max = options.maxConnections ?? 4;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxConnections must be ≥ 1 (got ${max})`);
    const pool = createServerPool(urlForDatabase(this.options.serverUrl, name), {
      max,
      application_name: 'tenantry-tenant',
    });
    const bounded = options.bounded === true && this.statementTimeoutMs > 0;
    const db = new Kysely<TenantDatabase>({
      dialect: new PostgresDialect({ pool: bounded ? boundedPool(pool, this.statementTimeoutMs) : pool }),
    });
    return this.registry.track(name, db, () => db.destroy());
  }

  close(): Promise<void> {
    this.closing ??= this.registry.closeEverything().then(() => this.admin.end());
    return this.closing;
  }

  private async checkPrivilege(): Promise<void> {
    const { rows } = await this.adminQuery<{ role: string; allowed: boolean; roles: boolean }>(
      `select current_user as role,
              coalesce((select rolsuper or rolcreatedb from pg_roles where rolname = current_user), false) as allowed,
              coalesce((select rolsuper or rolcreaterole from pg_roles where rolname = current_user), false) as roles`,
    );
    const row = rows[0];
    if (!row?.allowed) throw new MissingPrivilegeError(row?.role ?? 'current_user', this.server);
    if (!row.roles) {
      this.log.warn(
        { role: row.role },
        'the tenant server role lacks CREATEROLE: shared tenants (a role each) cannot be provisioned',
      );
    }
  }

  /** Runs `fn` on one admin connection holding the cross-process template lock. */
  private async withTemplateLock<T>(
    mode: 'shared' | 'exclusive',
    fn: (client: BoundedClient) => Promise<T>,
  ): Promise<T> {
    const suffix = mode === 'shared' ? '_shared' : '';
    const client = await checkoutBounded(this.admin, this.statementTimeoutMs);
    let broken = false;
    try {
      await client.query(`select pg_advisory_lock${suffix}($1)`, [this.lockKey]);
      try {
        return await fn(client);
      } finally {
        await client.query(`select pg_advisory_unlock${suffix}($1)`, [this.lockKey]).catch(() => {
          // A session that cannot unlock is discarded, which releases its locks.
          broken = true;
        });
      }
    } finally {
      client.release(broken);
    }
  }

  /** Creates the template if missing and migrates it when its recorded version is not the latest. */
  private async updateTemplate(client: BoundedClient): Promise<void> {
    const template = quoteIdent(this.names.template);
    const latest = await latestTenantMigration();
    const { rows } = await client.query<{ allowed: boolean; comment: string | null }>(
      `select datallowconn as allowed, shobj_description(oid, 'pg_database') as comment
         from pg_database where datname = $1`,
      [this.names.template],
    );
    let allowsConnections = rows[0]?.allowed ?? true;
    if (rows.length === 0) {
      await client.query(`create database ${template}`).catch((error: unknown) => {
        if (sqlState(error) !== SQLSTATE.DUPLICATE_DATABASE) throw error;
      });
    }
    if (rows[0]?.comment !== `${TEMPLATE_MARKER}${latest}`) {
      const started = performance.now();
      await client.query(`alter database ${template} with allow_connections true`);
      allowsConnections = true;
      await this.migrateTemplate();
      await client.query(`comment on database ${template} is ${pg.escapeLiteral(TEMPLATE_MARKER + latest)}`);
      this.log.info(
        { template: this.names.template, version: latest, ms: Math.round(performance.now() - started) },
        'tenant template migrated',
      );
    }
    // Closed to connections except while we migrate it, so nothing can make CREATE … TEMPLATE fail.
    if (allowsConnections) await client.query(`alter database ${template} with allow_connections false`);
  }

  private async migrateTemplate(): Promise<void> {
    // One short-lived connection, ended before any copy: a pool left open on the template blocks copies.
    const pool = createServerPool(urlForDatabase(this.options.serverUrl, this.names.template), {
      max: 1,
      application_name: 'tenantry-template',
    });
    const db = new Kysely<TenantDatabase>({ dialect: new PostgresDialect({ pool }) });
    try {
      await ensureTenantSchema(db);
    } finally {
      await db.destroy();
    }
  }

  private async copyTemplate(client: BoundedClient, name: string): Promise<void> {
    const sql = `create database ${quoteIdent(name)} template ${quoteIdent(this.names.template)}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(sql);
        return;
      } catch (error) {
        const state = sqlState(error);
        // Already there (an earlier attempt, or another process winning the race): creation is idempotent.
        if (state === SQLSTATE.DUPLICATE_DATABASE || state === SQLSTATE.UNIQUE_VIOLATION) return;
        if (state !== OBJECT_IN_USE || attempt >= IN_USE_ATTEMPTS) throw error;
        this.log.warn({ database: name, attempt }, 'tenant template in use by another session, retrying');
        await sleep(100 * attempt);
      }
    }
  }
}
