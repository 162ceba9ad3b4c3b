import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Kysely, PostgresDialect, sql, type PostgresPool, type Transaction } from 'kysely';
import type { ConnectionLease, TenantConnectionManager } from '../connections/connection-manager.js';
import type { DatabaseAddress, TenantPlacement } from './placement.js';
import { TENANT_MIGRATION_TABLE, tenantMigrationModules } from '../fleet/tenant-migrations.js';
import type { SharedTenantNames } from './placement-names.js';

/** A Kysely "pool" of the one leased connection (so a transaction runs on it). */
function leasePool(lease: ConnectionLease): PostgresPool {
  const client = { query: lease.client.query.bind(lease.client), release: () => undefined };
  return {
    connect: async () => client as unknown as Awaited<ReturnType<PostgresPool['connect']>>,
    end: async () => undefined,
  };
}

/** PostgreSQL's default search path, for work as the login role on a connection bound to a tenant. */
const DEFAULT_SEARCH_PATH = '"$user", public';

/** Migrated, unclaimed tenant schemas kept ready in each shared database a tenant was recently created in. */
export const SPARES_PER_DATABASE = 3;

/** What migrating one shared tenant did. */
export interface SchemaMigration {
  applied: string[];
  version: string;
}

/**
 * Shared tenants' schemas and roles inside shared databases: creating (with the tenant migrations), migrating,
 * dropping and listing them. The same SQL on both engines, run on connections the connection manager hands out,
 * so an embedded shared database (one PGlite instance, one query at a time) is never opened twice.
 *
 * Each tenant has a role of its own, NOLOGIN, owning its schema and every object in it and granted nothing
 * else; the tenant's work runs as that role (connections/schema-binding.ts). Every change runs in one transaction with
 * `SET LOCAL`, so it is all-or-nothing (a crash leaves no half-made schema or role) and leaves the connection's
 * session settings as they were.
 *
 * Creating a schema with the tenant tables costs PostgreSQL ~30 ms (every new index is synced to disk as it is
 * built). So each shared database keeps a few spares ready: migrated schemas `spare_<random>` owned by roles
 * `<prefix>_t_spare_<random>`, made off the request path after each creation. A new tenant claims one by renaming
 * it (schema and role) inside its creating transaction, which takes a few milliseconds; with no spare left it
 * creates its own. Spares never match a tenant's schema or role name, so orphan detection leaves them alone.
 */
export class SharedSchemas {
  /** Shared databases whose spares are being topped up in this process. */
  private readonly refilling = new Set<string>();
  private readonly refills = new Set<Promise<void>>();

  constructor(
    private readonly manager: TenantConnectionManager,
    readonly names: SharedTenantNames,
    private readonly log?: FastifyBaseLogger,
  ) {}

  /** The role a shared tenant's work runs as. */
  roleOf(orgId: number): string {
    return this.names.role(orgId);
  }

  /** Creates the tenant's role and schema and applies every tenant migration; idempotent. Returns the version. */
  async create(placement: TenantPlacement, orgId: number): Promise<string> {
    const schema = schemaOf(placement);
    const role = this.names.role(orgId);
    const { version } = await this.inTransaction(placement.address, async (trx) => {
      const { rows } = await sql`select 1 from pg_roles where rolname = ${role}`.execute(trx);
      // A role already there: a creation that crashed part-way is being finished (everything is idempotent).
      if (rows.length > 0 || !(await this.claimSpare(trx, schema, role))) {
        if (rows.length === 0) await this.createRole(trx, role);
        await sql`create schema if not exists ${sql.id(schema)} authorization ${sql.id(role)}`.execute(trx);
      }
      return this.applyPending(trx, schema, role);
    });
    this.refill(placement.address);
    return version;
  }

  /**
   * Renames a spare (schema and role) to the tenant's names, inside the caller's transaction; false when there
   * is none. Spares are claimed under a transaction-level lock, and re-checked after it: one another
   * transaction claimed meanwhile is gone.
   */
  private async claimSpare(trx: Transaction<unknown>, schema: string, role: string): Promise<boolean> {
    const { rows } = await sql<{ nspname: string; owner: string }>`
      select n.nspname, r.rolname as owner from pg_namespace n join pg_roles r on r.oid = n.nspowner
       where n.nspname like 'spare\\_%' order by n.nspname`.execute(trx);
    for (const spare of rows) {
      if (!this.names.isSpare(spare.nspname, spare.owner)) continue;
      const { rows: locked } = await sql<{ ok: boolean }>`
        select pg_try_advisory_xact_lock(hashtextextended(${spare.nspname}, 0)) as ok`.execute(trx);
      if (!locked[0]?.ok) continue;
      const { rows: still } = await sql`select 1 from pg_namespace where nspname = ${spare.nspname}`.execute(
        trx,
      );
      if (still.length === 0) continue;
      await sql`alter schema ${sql.id(spare.nspname)} rename to ${sql.id(schema)}`.execute(trx);
      await sql`alter role ${sql.id(spare.owner)} rename to ${sql.id(role)}`.execute(trx);
      return true;
    }
    return false;
  }

  private async createRole(trx: Transaction<unknown>, role: string): Promise<void> {
    await sql`create role ${sql.id(role)} nologin`.execute(trx);
    // Lets a login role that is not a superuser switch to it (a superuser may anyway).
    await sql`grant ${sql.id(role)} to current_user`.execute(trx);
  }

  /**
   * Tops up a shared database's spares to SPARES_PER_DATABASE in the background (one top-up at a time per
   * database in this process; a failure is logged, and the next creation tries again).
   */
  refill(address: DatabaseAddress): void {
    if (this.refilling.has(address.key)) return;
    this.refilling.add(address.key);
    const run = this.topUp(address)
      .catch((error: unknown) =>
        this.log?.warn({ err: error, database: address.key }, 'could not make spares'),
      )
      .finally(() => {
        this.refilling.delete(address.key);
        this.refills.delete(run);
      });
    this.refills.add(run);
  }

  /** Waits for the background top-ups in flight (before closing the connections they use). */
  async settle(): Promise<void> {
    await Promise.all([...this.refills]);
  }

  private async topUp(address: DatabaseAddress): Promise<void> {
    const count = async () =>
      this.withLease(address, async (lease) => {
        const result = (await lease.client.query(
          `select count(*)::int as n from pg_namespace where nspname like 'spare\\_%'`,
        )) as { rows: { n: number }[] };
        return result.rows[0]?.n ?? 0;
      });
    for (let have = await count(); have < SPARES_PER_DATABASE; have++) {
      const suffix = randomBytes(6).toString('hex');
      const schema = `spare_${suffix}`;
      const role = this.names.spareRole(suffix);
      await this.inTransaction(address, async (trx) => {
        await this.createRole(trx, role);
        await sql`create schema ${sql.id(schema)} authorization ${sql.id(role)}`.execute(trx);
        await this.applyPending(trx, schema, role);
      });
    }
  }

  /** Applies the tenant migrations a shared tenant lacks, in one transaction (a failure changes nothing). */
  migrate(placement: TenantPlacement, orgId: number): Promise<SchemaMigration> {
    const schema = schemaOf(placement);
    const role = this.names.role(orgId);
    return this.inTransaction(placement.address, (trx) => this.applyPending(trx, schema, role));
  }

  /**
   * Rolls a shared tenant back one migration, or to `to` (a migration name, or "none"), in one transaction; returns
   * the migration it is at afterwards (null: none).
   */
  async rollback(placement: TenantPlacement, orgId: number, to?: string): Promise<string | null> {
    const schema = schemaOf(placement);
    const role = this.names.role(orgId);
    return this.inTransaction(placement.address, async (trx) => {
      await this.becomeTenant(trx, schema, role);
      const table = sql.table(TENANT_MIGRATION_TABLE);
      const { rows } = await sql<{ name: string }>`select name from ${table} order by name`.execute(trx);
      const done = rows.map((row) => row.name);
      const migrations = await tenantMigrationModules();
      const keep = to === undefined ? done.length - 1 : to === 'none' ? 0 : done.indexOf(to) + 1;
      if (to !== undefined && to !== 'none' && keep === 0)
        throw new Error(`Migration "${to}" is not applied`);
      for (const name of done.slice(Math.max(0, keep)).reverse()) {
        const migration = migrations[name];
        if (!migration?.down) throw new Error(`Migration "${name}" cannot be rolled back`);
        await migration.down(trx);
        await sql`delete from ${table} where name = ${name}`.execute(trx);
      }
      return done[Math.max(0, keep) - 1] ?? null;
    });
  }

  async exists(placement: TenantPlacement): Promise<boolean> {
    const schema = schemaOf(placement);
    return this.withLease(placement.address, async (lease) => {
      const result = (await lease.client.query('select 1 from pg_namespace where nspname = $1', [
        schema,
      ])) as { rows: unknown[] };
      return result.rows.length === 1;
    });
  }

  /** Drops the tenant's schema (with everything in it) and its role; idempotent. Neighbours are untouched. */
  async drop(placement: TenantPlacement, orgId: number): Promise<void> {
    const schema = schemaOf(placement);
    const role = this.names.role(orgId);
    await this.inTransaction(placement.address, async (trx) => {
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(trx);
      await this.dropRoleIn(trx, role);
    });
  }

  /** Drops a tenant role left without a tenant (its schema already gone); false when it still owns something. */
  async dropRole(address: DatabaseAddress, role: string): Promise<boolean> {
    if (this.names.roleOrgId(role) === null) throw new TypeError(`"${role}" is not a tenant role`);
    try {
      await this.inTransaction(address, (trx) => this.dropRoleIn(trx, role));
      return true;
    } catch {
      // It still owns objects in another shared database (dropped with that database's schemas).
      return false;
    }
  }

  /** Organization ids that have a schema in this shared database. */
  async listSchemas(address: DatabaseAddress): Promise<{ orgId: number; schema: string }[]> {
    return this.withLease(address, async (lease) => {
      const result = (await lease.client.query(
        `select nspname from pg_namespace where nspname like 't\\_%' order by nspname`,
      )) as { rows: { nspname: string }[] };
      return result.rows.flatMap(({ nspname }) => {
        const orgId = this.names.schemaOrgId(nspname);
        return orgId === null ? [] : [{ orgId, schema: nspname }];
      });
    });
  }

  /** Tenant roles of this deployment that the server (PostgreSQL) or this embedded database (PGlite) has. */
  async listRoles(address: DatabaseAddress): Promise<{ orgId: number; role: string }[]> {
    return this.withLease(address, async (lease) => {
      const result = (await lease.client.query(
        'select rolname from pg_roles where left(rolname, length($1)) = $1',
        [this.names.rolesPrefix],
      )) as { rows: { rolname: string }[] };
      return result.rows.flatMap(({ rolname }) => {
        const orgId = this.names.roleOrgId(rolname);
        return orgId === null ? [] : [{ orgId, role: rolname }];
      });
    });
  }

  private async dropRoleIn(trx: Transaction<unknown>, role: string): Promise<void> {
    const { rows } = await sql`select 1 from pg_roles where rolname = ${role}`.execute(trx);
    if (rows.length === 0) return;
    await sql`drop owned by ${sql.id(role)}`.execute(trx);
    await sql`drop role ${sql.id(role)}`.execute(trx);
  }

  /** Runs the migrations the schema has not recorded, as the tenant's role; returns what it applied. */
  private async applyPending(
    trx: Transaction<unknown>,
    schema: string,
    role: string,
  ): Promise<SchemaMigration> {
    await this.becomeTenant(trx, schema, role);
    const table = sql.table(TENANT_MIGRATION_TABLE);
    await sql`create table if not exists ${table} (
      name varchar(255) not null primary key,
      timestamp varchar(255) not null
    )`.execute(trx);
    const { rows } = await sql<{ name: string }>`select name from ${table}`.execute(trx);
    const done = new Set(rows.map((row) => row.name));
    const migrations = await tenantMigrationModules();
    const names = Object.keys(migrations).sort();
    const applied: string[] = [];
    for (const name of names) {
      if (done.has(name)) continue;
      await migrations[name]?.up(trx);
      await sql`insert into ${table} (name, timestamp) values (${name}, ${new Date().toISOString()})`.execute(
        trx,
      );
      applied.push(name);
    }
    return { applied, version: names[names.length - 1] as string };
  }

  /**
   * For the rest of the transaction: the tenant's role and schema (`SET LOCAL` both, through set_config), and no
   * other migration of it at once; one round trip.
   */
  private async becomeTenant(trx: Transaction<unknown>, schema: string, role: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${schema}, 0)),
                     set_config('role', ${role}, true),
                     set_config('search_path', quote_ident(${schema}), true)`.execute(trx);
  }

  private async withLease<T>(
    address: DatabaseAddress,
    fn: (lease: ConnectionLease) => Promise<T>,
  ): Promise<T> {
    const lease = await this.manager.acquire(address);
    try {
      return await fn(lease);
    } finally {
      lease.release();
    }
  }

  /**
   * One transaction on a connection of the shared database, as the login role with the default search path
   * (`SET LOCAL`: the connection's own binding is back when it ends).
   */
  private inTransaction<T>(
    address: DatabaseAddress,
    fn: (trx: Transaction<unknown>) => Promise<T>,
  ): Promise<T> {
    return this.withLease(address, async (lease) => {
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: leasePool(lease) }) });
      return db.transaction().execute(async (trx) => {
        await sql`select set_config('role', 'none', true), set_config('search_path', ${DEFAULT_SEARCH_PATH}, true)`.execute(
          trx,
        );
        return fn(trx);
      });
    });
  }
}

function schemaOf(placement: TenantPlacement): string {
  if (placement.schema === null) throw new TypeError('A dedicated placement has no schema');
  return placement.schema;
}
