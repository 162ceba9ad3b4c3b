import pg from 'pg';
import { TenantNamingError } from './tenant-store-errors.js';

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

/** `postgres://host:port`, without credentials or database: what organizations.placement records. */
export function placementOf(url: string): string {
  const parsed = new URL(url);
  const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
  return `postgres://${host}:${parsed.port || '5432'}`;
}

/** Quotes an identifier for SQL text (names are validated before, this is belt and braces). */
export function quoteIdent(name: string): string {
  return pg.escapeIdentifier(name);
}
