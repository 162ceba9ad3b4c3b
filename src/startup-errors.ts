import type { Config } from './config.js';
import { sqlState } from './errors.js';

/** The first error in a chain of causes (and AggregateError members) that carries a code, else the error itself. */
function rootCause(error: unknown): unknown {
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  while (queue.length > 0) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    if ('code' in current && typeof current.code === 'string') return current;
    if (current instanceof AggregateError) queue.push(...(current.errors as unknown[]));
    if ('cause' in current) queue.push(current.cause);
  }
  return error;
}

/** Host, port, user and database of a postgres:// URL, never its password. */
function describeUrl(raw: string) {
  const url = new URL(raw);
  return {
    host: url.hostname || 'localhost',
    port: url.port || '5432',
    user: decodeURIComponent(url.username) || 'postgres',
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres',
  };
}

/**
 * One line explaining why the server could not start, with the fix, for the failures an operator causes
 * (a database server that is down or unreachable, a database or role that does not exist, a wrong password,
 * a port in use); undefined for anything else, which deserves its stack trace. Never prints a password.
 *
 * @example
 * explainStartupError(error, config); // 'cannot connect to PostgreSQL at 127.0.0.1:5433 (connection refused): …'
 */
export function explainStartupError(
  error: unknown,
  config: Pick<Config, 'databaseUrl' | 'tenantDatabaseUrl' | 'host' | 'port'>,
): string | undefined {
  const cause = rootCause(error) as NodeJS.ErrnoException & { address?: string; port?: number };
  const message = cause instanceof Error ? cause.message : String(cause);
  if (cause.code === 'EADDRINUSE')
    return `port ${config.port} on ${config.host} is already in use: stop the other process or set PORT`;
  if (!config.databaseUrl) return undefined;
  const core = describeUrl(config.databaseUrl);
  const servers = config.tenantDatabaseUrl ? [core, describeUrl(config.tenantDatabaseUrl)] : [core];
  // The server the failing connection went to, when the error says (a refused connection names its port).
  const target = servers.find((s) => cause.port !== undefined && String(cause.port) === s.port) ?? core;
  const at = `${target.host}:${target.port}`;
  switch (cause.code) {
    case 'ECONNREFUSED':
      return `cannot connect to PostgreSQL at ${cause.address ?? target.host}:${cause.port ?? target.port} (connection refused): start the server, or fix DATABASE_URL`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the PostgreSQL host "${target.host}": fix the host in DATABASE_URL`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return `no answer from PostgreSQL at ${at} (${cause.code}): check the network path and DATABASE_URL`;
  }
  const state = sqlState(cause);
  if (state === '3D000') {
    const name = /database "([^"]+)" does not exist/.exec(message)?.[1] ?? target.database;
    const server = servers.find((s) => s.database === name) ?? target;
    return (
      `database "${name}" does not exist on ${server.host}:${server.port}: create it with ` +
      `\`createdb -h ${server.host} -p ${server.port} -U ${server.user} ${name}\` (or point DATABASE_URL at an existing one)`
    );
  }
  if (state === '28P01')
    return `PostgreSQL at ${at} refused the password of role "${target.user}": fix the password in DATABASE_URL`;
  if (state === '28000')
    return (
      `PostgreSQL at ${at} refused role "${target.user}" (${message}): create it with ` +
      `\`createuser -h ${target.host} -p ${target.port} --createdb ${target.user}\`, or fix DATABASE_URL`
    );
  if (/timeout (expired|exceeded when trying to connect)/i.test(message))
    return `no answer from PostgreSQL at ${at} within the connect timeout: check that it is up and reachable`;
  return undefined;
}
