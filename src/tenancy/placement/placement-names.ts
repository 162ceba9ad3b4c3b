import pg from 'pg';
import { TenantNamingError } from '../stores/tenant-store-errors.js';

/** Names of databases we create on PostgreSQL: safe unquoted identifiers of at most 63 bytes. */
export const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** organizations.id is a PostgreSQL `integer`. */
const MAX_ORG_ID = 2_147_483_647;

function assertOrgId(orgId: number): void {
  if (!Number.isSafeInteger(orgId) || orgId < 1 || orgId > MAX_ORG_ID) {
    throw new TenantNamingError(`Invalid organization id ${String(orgId)}`);
  }
}

/**
 * Tenant and template database names on a PostgreSQL server: `<core>_tenant_<orgId>` and
 * `<core>_tenant_template`. Prefixing with the core database's name keeps deployments (and test runs)
 * sharing a server apart. Names come from ids only, never from user input.
 *
 * @example
 * const names = new PostgresTenantNames('tenantry');
 * names.tenant(42); // 'tenantry_tenant_42'
 */
export class PostgresTenantNames {
  readonly template: string;
  private readonly tenantPattern: RegExp;

  constructor(readonly coreDatabase: string) {
    this.template = `${coreDatabase}_tenant_template`;
    const longest = `${coreDatabase}_tenant_${MAX_ORG_ID}`;
    for (const name of [this.template, longest]) {
      if (!DATABASE_NAME.test(name)) {
        throw new TenantNamingError(
          `The core database name "${coreDatabase}" cannot prefix tenant database names: "${name}" must match ` +
            `${DATABASE_NAME.source} (lower-case letters, digits and underscores, at most 63 characters). ` +
            `Use a core database name of at most ${63 - longest.length + coreDatabase.length} such characters.`,
        );
      }
    }
    // The prefix matched DATABASE_NAME above, so it holds no regular-expression metacharacters.
    this.tenantPattern = new RegExp(`^${coreDatabase}_tenant_[1-9][0-9]*$`);
  }

  /** The name of shared database number `n` (n ≥ 1): `<core>_shared_<n>`. */
  shared(n: number): string {
    assertSharedNumber(n);
    return `${this.coreDatabase}_shared_${n}`;
  }

  /** The number of a shared database of this core database, or null for any other name. */
  sharedNumber(name: string): number | null {
    const prefix = `${this.coreDatabase}_shared_`;
    if (!DATABASE_NAME.test(name) || !name.startsWith(prefix)) return null;
    return parseSharedNumber(name.slice(prefix.length));
  }

  /** The database name of an organization. */
  tenant(orgId: number): string {
    assertOrgId(orgId);
    return `${this.coreDatabase}_tenant_${orgId}`;
  }

  /** True for names of tenant databases of this core database (never the template). */
  isTenant(name: string): boolean {
    return DATABASE_NAME.test(name) && this.tenantPattern.test(name);
  }

  /** Returns `name` if it is a tenant database name, throws otherwise: a guard before any DDL. */
  assertTenant(name: string): string {
    if (!this.isTenant(name)) throw new TenantNamingError(`"${name}" is not a tenant database name`);
    return name;
  }
}

const MAX_SHARED_NUMBER = 99_999;

function assertSharedNumber(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_SHARED_NUMBER) {
    throw new TenantNamingError(`Invalid shared database number ${String(n)}`);
  }
}

function parseSharedNumber(digits: string): number | null {
  if (!/^[1-9][0-9]{0,4}$/.test(digits)) return null;
  return Number(digits);
}

/** PGlite shared databases: `DATA_DIR/tenants/shared_<n>`. */
export function pgliteSharedName(n: number): string {
  assertSharedNumber(n);
  return `shared_${n}`;
}

/** The number of a PGlite shared database directory name, or null for any other name. */
export function pgliteSharedNumber(name: string): number | null {
  return name.startsWith('shared_') ? parseSharedNumber(name.slice('shared_'.length)) : null;
}

/**
 * Names inside shared databases: a tenant's schema `t_<orgId>` and its role `<prefix>_t_<orgId>`. Roles belong
 * to the whole PostgreSQL server (not one database), so they carry the core database's name like tenant
 * databases do, keeping deployments that share a server apart.
 *
 * @example
 * const names = new SharedTenantNames('tenantry');
 * names.schema(42); // 't_42'
 * names.role(42); // 'tenantry_t_42'
 */
export class SharedTenantNames {
  private readonly rolePrefix: string;

  constructor(prefix: string) {
    this.rolePrefix = `${prefix}_t_`;
    const longest = `${this.rolePrefix}${MAX_ORG_ID}`;
    if (!DATABASE_NAME.test(longest)) {
      throw new TenantNamingError(`"${prefix}" cannot prefix tenant role names ("${longest}" is too long)`);
    }
  }

  schema(orgId: number): string {
    assertOrgId(orgId);
    return `t_${orgId}`;
  }

  role(orgId: number): string {
    assertOrgId(orgId);
    return `${this.rolePrefix}${orgId}`;
  }

  /** The role owning a spare schema `spare_<suffix>` (a ready-made tenant schema not claimed yet). */
  spareRole(suffix: string): string {
    if (!/^[0-9a-f]{12}$/.test(suffix)) throw new TenantNamingError(`Invalid spare suffix "${suffix}"`);
    return `${this.rolePrefix}spare_${suffix}`;
  }

  /** True for a spare schema owned by its spare role of this deployment. */
  isSpare(schema: string, owner: string): boolean {
    const match = /^spare_([0-9a-f]{12})$/.exec(schema);
    return match !== null && owner === `${this.rolePrefix}spare_${match[1]}`;
  }

  /** The role of the tenant owning a schema. */
  roleForSchema(schema: string): string {
    const orgId = this.schemaOrgId(schema);
    if (orgId === null) throw new TenantNamingError(`"${schema}" is not a tenant schema name`);
    return this.role(orgId);
  }

  /** The organization id a tenant schema name belongs to, or null when it is not one. */
  schemaOrgId(name: string): number | null {
    return orgIdAfter(name, 't_');
  }

  /** The organization id a tenant role name belongs to, or null when it is not one of this deployment's. */
  roleOrgId(name: string): number | null {
    return orgIdAfter(name, this.rolePrefix);
  }

  /** The prefix every tenant role of this deployment starts with (for listing them). */
  get rolesPrefix(): string {
    return this.rolePrefix;
  }
}

function orgIdAfter(name: string, prefix: string): number | null {
  if (!name.startsWith(prefix)) return null;
  const digits = name.slice(prefix.length);
  if (!/^[1-9][0-9]{0,9}$/.test(digits)) return null;
  const id = Number(digits);
  return id <= MAX_ORG_ID ? id : null;
}

/** PGlite tenant directories are named by the organization id alone: `DATA_DIR/tenants/<orgId>`. */
export const PGLITE_TENANT_NAME = /^[1-9][0-9]{0,9}$/;

/** The data-directory name of an organization on PGlite. */
export function pgliteTenantName(orgId: number): string {
  assertOrgId(orgId);
  return String(orgId);
}

/** The database a PostgreSQL URL names; throws when it names none (we need it to prefix tenant names). */
export function databaseNameFromUrl(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (name === '')
    throw new TenantNamingError('DATABASE_URL must name a database, e.g. postgres://host/tenantry');
  return name;
}

/** The same server URL pointing at another database (credentials and options kept). */
export function urlForDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** Quotes an identifier for SQL text (names are validated before, this is belt and braces). */
export function quoteIdent(name: string): string {
  return pg.escapeIdentifier(name);
}
