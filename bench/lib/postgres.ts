import pg from 'pg';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The PostgreSQL server and maintenance database the benchmarks use: BENCH_DATABASE_URL, by default
 * postgres://postgres@127.0.0.1:5432/postgres. Only a server on this machine is accepted.
 */
export function benchServerUrl(): string {
  const raw = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const url = new URL(raw);
  if (!LOOPBACK.has(url.hostname)) {
    throw new Error(`BENCH_DATABASE_URL must point at 127.0.0.1 (got host "${url.hostname}")`);
  }
  return raw;
}

/** The same server URL naming another database. */
export function urlForDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** One statement on its own short connection to the maintenance database. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  serverUrl: string,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await client.query<R>(text, values);
  } finally {
    await client.end();
  }
}

export async function createDatabase(serverUrl: string, name: string): Promise<void> {
  await adminQuery(serverUrl, `create database ${pg.escapeIdentifier(name)}`);
}

/**
 * Drops the core database and every database named after it (`<core>_tenant_<id>`, `<core>_tenant_template`,
 * `<core>_shared_<n>`), then the shared tenants' roles,
 * terminating any session still connected. 16 at a time: each DROP DATABASE waits for a checkpoint, and
 * concurrent drops share one (one at a time can take a second per database on a busy server).
 * Returns how many were dropped.
 */
export async function dropDatabaseFamily(serverUrl: string, core: string, parallel = 16): Promise<number> {
  const { rows } = await adminQuery<{ datname: string }>(
    serverUrl,
    `select datname from pg_database where datname = $1 or left(datname, length($1) + 1) = $1 || '_'`,
    [core],
  );
  const names = rows.map((row) => row.datname);
  const failed: string[] = [];
  const worker = async () => {
    const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      for (let name = names.pop(); name !== undefined; name = names.pop()) {
        await client
          .query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`)
          .catch((error: unknown) => failed.push(`${name}: ${String(error)}`));
      }
    } finally {
      await client.end();
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, Math.max(1, names.length)) }, worker));
  if (failed.length > 0)
    throw new Error(`could not drop ${failed.length} database(s):\n  ${failed.join('\n  ')}`);
  await dropTenantRoles(serverUrl, core);
  return rows.length;
}

/**
 * Drops the shared tenants' roles of a core database (`<core>_t_<id>`): they belong to the server, not to a
 * database, so dropping the databases leaves them. Run after the databases are gone (a role that still owns
 * objects cannot be dropped). Returns how many were dropped.
 */
export async function dropTenantRoles(serverUrl: string, core: string): Promise<number> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ rolname: string }>(
      `select rolname from pg_roles where left(rolname, length($1)) = $1`,
      [`${core}_t_`],
    );
    for (const { rolname } of rows) await client.query(`drop role if exists ${pg.escapeIdentifier(rolname)}`);
    return rows.length;
  } finally {
    await client.end();
  }
}
