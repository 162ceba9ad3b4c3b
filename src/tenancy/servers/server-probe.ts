import pg from 'pg';
import { POOL_DEFAULTS } from '../../db/pools.js';

/** What one look at a tenant server found. */
export interface ServerProbe {
  /** `server_version` */
  version: string;
  /** Whether the role may create databases (CREATEDB or superuser): needed for tenant databases. */
  canCreateDatabases: boolean;
  /**
   * Sessions of tenant connections of this deployment (application_name `tenantry-tenant`, on databases named
   * after its core database), from every app process: all, and those running a statement right now.
   */
  connections: { open: number; active: number };
}

/**
 * Connects once to a tenant server's maintenance database and reads its version, the role's privilege and the
 * deployment's tenant sessions (`pg_stat_activity`). Bounded by the pool connect timeout. Errors carry pg's
 * message, which never includes the password.
 */
export async function probeServer(url: string, databasePrefix: string): Promise<ServerProbe> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: POOL_DEFAULTS.connectionTimeoutMillis,
    application_name: 'tenantry-admin',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{
      version: string;
      allowed: boolean;
      open: string;
      active: string;
    }>(
      `select current_setting('server_version') as version,
              coalesce((select rolsuper or rolcreatedb from pg_roles where rolname = current_user), false) as allowed,
              count(a.pid) as open,
              count(a.pid) filter (where a.state = 'active') as active
         from (select 1) as one
         left join pg_stat_activity a
           on a.application_name = 'tenantry-tenant' and left(a.datname, length($1)) = $1`,
      [`${databasePrefix}_`],
    );
    const row = rows[0];
    return {
      version: row?.version ?? 'unknown',
      canCreateDatabases: row?.allowed ?? false,
      connections: { open: Number(row?.open ?? 0), active: Number(row?.active ?? 0) },
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}
