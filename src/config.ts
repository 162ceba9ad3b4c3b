import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import type { PlacementKind } from './db/core-schema.js';
import { wildcardOrigin } from './http/cors-origins.js';
import { canonicalHostname } from './tenancy/routing/hostnames.js';

const PLACEMENT_KINDS: readonly PlacementKind[] = ['dedicated', 'shared'];

/** A rate limit such as `5/minute`; `null` when the variable says `off`. */
export interface RateLimit {
  readonly max: number;
  readonly windowMs: number;
}

export type JwtAlgorithm = 'HS256' | 'HS384' | 'HS512';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The server's configuration: parsed and validated once at start, then frozen. */
export interface Config {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly databaseUrl: string | null;
  readonly tenantDatabaseUrl: string | null;
  readonly dataDir: string;
  readonly secretKey: string;
  readonly algorithm: JwtAlgorithm;
  readonly jwtIssuer: string;
  readonly accessTokenExpireMinutes: number;
  readonly refreshTokenExpireDays: number;
  readonly verificationTokenExpireHours: number;
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  readonly smtpUrl: string | null;
  readonly mailFrom: string;
  readonly redisUrl: string | null;
  readonly corsOrigins: readonly string[];
  readonly authRateLimit: RateLimit | null;
  readonly rateLimit: RateLimit | null;
  /** Organization creations per owner (per authenticated core user, not per IP); null when `off`. */
  readonly organizationRateLimit: RateLimit | null;
  /** Organizations one owner may have that are not deleted; null when `off`. */
  readonly maxOrganizationsPerOwner: number | null;
  readonly webConcurrency: number;
  /** argon2 computations (password hashes and checks) run at once by the server; more wait their turn. */
  readonly passwordHashConcurrency: number;
  readonly logLevel: LogLevel;
  readonly bodyLimitBytes: number;
  /**
   * Which proxies' X-Forwarded-* headers to believe: none, all (`true`: the left-most X-Forwarded-For address
   * wins, so the proxy must overwrite the header) or only these addresses/CIDRs, comma-separated.
   */
  readonly trustProxy: boolean | string;
  /** How long a client may take to send a whole request (headers and body); 0 disables the limit. */
  readonly requestTimeoutMs: number;
  /**
   * How long one query of a request may wait for a PostgreSQL server before its connection is cut and the request
   * answered 503; 0 disables it. Not applied to migrations and provisioning DDL, nor to the embedded engine.
   */
  readonly databaseQueryTimeoutMs: number;
  /**
   * The same bound for each statement of provisioning and deleting a tenant (CREATE/DROP DATABASE, the template
   * lock, adding the owner), which may legitimately take longer; 0 disables it. Migrations are never bounded.
   */
  readonly databaseDdlTimeoutMs: number;
  /** Bearer token required by GET /metrics; null leaves it open (keep it off the public network then). */
  readonly metricsToken: string | null;
  readonly tenantConnections: TenantConnectionLimits;
  /** Start settings of every embedded (PGlite) database instance. */
  readonly pglite: PgliteSettings;
  /** How long a resolved X-TENANT is trusted without asking the core database (changes invalidate it). */
  readonly tenantCacheTtlMs: number;
  /** Where new organizations are placed: a database of their own, or a schema of a shared database. */
  readonly tenantPlacement: PlacementKind;
  /** Tenants per shared database before a new shared database is opened. */
  readonly tenantSharedPerDatabase: number;
  /**
   * `TENANT_BASE_DOMAIN`, canonical (lower case): `<slug>.<it>` selects tenant `<slug>` as X-TENANT would; null
   * when unset (custom domains of organizations still select theirs).
   */
  readonly tenantBaseDomain: string | null;
  /** Audit events older than this many days are pruned (and never shown). */
  readonly auditRetentionDays: number;
}

/** How every embedded (PGlite) instance of this process is started. */
export interface PgliteSettings {
  /** PostgreSQL `shared_buffers` of each instance, in MiB (`PGLITE_SHARED_BUFFERS_MB`). */
  readonly sharedBuffersMb: number;
}

/** Hard budgets for connections to tenant databases (see src/tenancy/connections/connection-manager.ts). */
export interface TenantConnectionLimits {
  /** All tenant connections of this server together (PGlite: open tenant instances). */
  readonly maxConnections: number;
  readonly maxPerTenant: number;
  /** Connections to one shared database, all its tenants together. */
  readonly maxPerSharedDatabase: number;
  /** Connections to one tenant server, all its databases together (TENANT_MAX_CONNECTIONS_PER_SERVER). */
  readonly maxPerServer: number;
  readonly maxOpenTenants: number;
  readonly idleTimeoutMs: number;
  readonly acquireTimeoutMs: number;
}

/** Thrown when the environment holds invalid values; `problems` has one readable line per bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const WINDOWS: Record<string, number> = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'HS384', 'HS512'];
const MIN_SECRET_LENGTH = 32;
const MIN_METRICS_TOKEN_LENGTH = 16;

/** Reads variables one by one, collecting every problem instead of stopping at the first. */
class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string;
  string(name: string, fallback: null): string | null;
  string(name: string, fallback: string | null): string | null {
    const raw = this.env[name]?.trim();
    return raw === undefined || raw === '' ? fallback : raw;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name, null);
    if (raw === null) return fallback;
    if (!/^-?\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      this.problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[], normalize = (s: string) => s): T {
    const raw = this.string(name, null);
    if (raw === null) return fallback;
    const value = normalize(raw) as T;
    if (!allowed.includes(value)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.string(name, null)?.toLowerCase();
    if (raw === undefined || raw === null) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    this.problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  }

  url(name: string, protocols: readonly string[]): string | null {
    const raw = this.string(name, null);
    if (raw === null) return null;
    try {
      const url = new URL(raw);
      if (!protocols.includes(url.protocol)) throw new Error('protocol');
      return raw;
    } catch {
      this.problems.push(
        `${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
      );
      return null;
    }
  }

  /** A positive integer, or `off` for no limit (null). */
  limit(name: string, fallback: number, min: number, max: number): number | null {
    if (this.string(name, null)?.toLowerCase() === 'off') return null;
    const raw = this.string(name, null);
    if (raw !== null && !/^\d+$/.test(raw)) {
      this.problems.push(`${name} must be an integer between ${min} and ${max}, or "off" (got "${raw}")`);
      return fallback;
    }
    return this.integer(name, fallback, min, max);
  }

  rateLimit(name: string, fallback: string): RateLimit | null {
    const raw = this.string(name, fallback);
    const parsed = parseRateLimit(raw);
    if (parsed !== undefined) return parsed;
    this.problems.push(
      `${name} must look like "5/minute" (per second|minute|hour|day) or "off" (got "${raw}")`,
    );
    return parseRateLimit(fallback) ?? null;
  }
}

/** `"5/minute"` → `{max: 5, windowMs: 60000}`, `"off"` → `null`, anything else → `undefined`. */
export function parseRateLimit(text: string): RateLimit | null | undefined {
  const raw = text.trim().toLowerCase();
  if (raw === 'off') return null;
  const match = /^(\d+)\s*\/\s*(second|minute|hour|day)$/.exec(raw);
  if (!match || Number(match[1]) < 1) return undefined;
  return { max: Number(match[1]), windowMs: WINDOWS[match[2] as string] as number };
}

/**
 * Parses and validates the environment. Every bad value is reported at once, in words.
 *
 * @example
 * const config = loadConfig(process.env); // throws ConfigError listing every problem
 */
export function loadConfig(env: Env = process.env): Config {
  const read = new EnvReader(env);
  const nodeEnv = read.oneOf('NODE_ENV', 'development', ['development', 'production', 'test']);
  const port = read.integer('PORT', 8000, 0, 65535);
  const dataDir = resolve(read.string('DATA_DIR', './data'));
  const databaseUrl = read.url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const tenantDatabaseUrl = read.url('TENANT_DATABASE_URL', ['postgres:', 'postgresql:']);
  if (tenantDatabaseUrl && !databaseUrl) {
    read.problems.push(
      'TENANT_DATABASE_URL needs DATABASE_URL (the embedded engine keeps tenants under DATA_DIR)',
    );
  }
  const publicUrl = read.url('PUBLIC_URL', ['http:', 'https:']) ?? `http://localhost:${port}`;
  const secretKey = resolveSecretKey(read, nodeEnv, dataDir);
  const corsOrigins = (read.string('CORS_ORIGINS', null) ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  for (const origin of corsOrigins) {
    try {
      wildcardOrigin(origin);
    } catch (error) {
      read.problems.push(`CORS_ORIGINS: ${(error as Error).message}`);
    }
  }

  const config: Config = {
    nodeEnv,
    databaseUrl,
    tenantDatabaseUrl,
    dataDir,
    secretKey,
    algorithm: read.oneOf('ALGORITHM', 'HS256', ALGORITHMS, (s) => s.toUpperCase()),
    jwtIssuer: read.string('JWT_ISSUER', 'tenantry'),
    accessTokenExpireMinutes: read.integer('ACCESS_TOKEN_EXPIRE_MINUTES', 30, 1, 1440),
    refreshTokenExpireDays: read.integer('REFRESH_TOKEN_EXPIRE_DAYS', 14, 1, 365),
    verificationTokenExpireHours: read.integer('VERIFICATION_TOKEN_EXPIRE_HOURS', 24, 1, 720),
    host: read.string('HOST', '0.0.0.0'),
    port,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    smtpUrl: read.url('SMTP_URL', ['smtp:', 'smtps:']),
    mailFrom: read.string('MAIL_FROM', 'Tenantry <no-reply@tenantry.local>'),
    redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
    corsOrigins,
    authRateLimit: read.rateLimit('AUTH_RATE_LIMIT', '5/minute'),
    rateLimit: read.rateLimit('RATE_LIMIT', '100/minute'),
    organizationRateLimit: read.rateLimit('ORGANIZATION_RATE_LIMIT', '10/hour'),
    maxOrganizationsPerOwner: read.limit('MAX_ORGANIZATIONS_PER_OWNER', 25, 1, 100_000),
    webConcurrency: read.integer('WEB_CONCURRENCY', 1, 1, 64),
    passwordHashConcurrency: read.integer('PASSWORD_HASH_CONCURRENCY', availableParallelism(), 1, 256),
    logLevel: read.oneOf('LOG_LEVEL', 'info', LOG_LEVELS, (s) => s.toLowerCase()),
    bodyLimitBytes: read.integer('BODY_LIMIT', 1_048_576, 1024, 100 * 1_048_576),
    trustProxy: resolveTrustProxy(read),
    requestTimeoutMs: read.integer('REQUEST_TIMEOUT_MS', 30_000, 0, 600_000),
    databaseQueryTimeoutMs: read.integer('DATABASE_QUERY_TIMEOUT_MS', 10_000, 0, 600_000),
    databaseDdlTimeoutMs: read.integer('DATABASE_DDL_TIMEOUT_MS', 60_000, 0, 3_600_000),
    metricsToken: resolveMetricsToken(read),
    tenantConnections: tenantConnectionLimits(read, databaseUrl !== null),
    pglite: { sharedBuffersMb: read.integer('PGLITE_SHARED_BUFFERS_MB', 16, 1, 1024) },
    tenantCacheTtlMs: read.integer('TENANT_CACHE_TTL_MS', 5_000, 0, 3_600_000),
    tenantPlacement: read.oneOf('TENANT_PLACEMENT', 'dedicated', PLACEMENT_KINDS, (s) => s.toLowerCase()),
    tenantSharedPerDatabase: read.integer('TENANT_SHARED_PER_DATABASE', 1_000, 1, 100_000),
    tenantBaseDomain: resolveBaseDomain(read),
    auditRetentionDays: read.integer('AUDIT_RETENTION_DAYS', 365, 1, 36_500),
  };
  if (config.webConcurrency > 1 && !databaseUrl) {
    read.problems.push('WEB_CONCURRENCY above 1 needs DATABASE_URL: one process owns an embedded database');
  }
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(config);
}

/**
 * On PostgreSQL the budget counts server connections. On PGlite each "connection" is a whole embedded database
 * instance (~200 MB, one query at a time), so the defaults keep a handful open, one per tenant.
 */
function tenantConnectionLimits(read: EnvReader, server: boolean): TenantConnectionLimits {
  const maxConnections = read.integer('TENANT_MAX_CONNECTIONS', server ? 40 : 4, 1, 10_000);
  return {
    maxConnections,
    maxPerTenant: server ? read.integer('TENANT_MAX_CONNECTIONS_PER_TENANT', 4, 1, 1_000) : 1,
    maxPerSharedDatabase: server
      ? read.integer('TENANT_MAX_CONNECTIONS_PER_SHARED_DATABASE', 10, 1, 1_000)
      : 1,
    // Per tenant server (several servers: each has its own max_connections); by default only the total bounds.
    maxPerServer: server
      ? read.integer('TENANT_MAX_CONNECTIONS_PER_SERVER', maxConnections, 1, 10_000)
      : maxConnections,
    maxOpenTenants: read.integer('TENANT_MAX_OPEN', maxConnections, 1, 10_000),
    idleTimeoutMs: read.integer('TENANT_IDLE_TIMEOUT_SECONDS', 60, 1, 86_400) * 1000,
    acquireTimeoutMs: read.integer('TENANT_ACQUIRE_TIMEOUT_MS', 5_000, 1, 120_000),
  };
}

/** `TRUST_PROXY`: a boolean, or the proxies' addresses and CIDR ranges (e.g. `10.0.0.0/8,192.168.1.10`). */
function resolveTrustProxy(read: EnvReader): boolean | string {
  const raw = read.string('TRUST_PROXY', null);
  if (raw === null || !/[.:]/.test(raw)) return read.boolean('TRUST_PROXY', false);
  const entries = raw.split(',').map((entry) => entry.trim());
  const valid = entries.every((entry) => {
    const [address = '', bits, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  });
  if (!valid) {
    read.problems.push(
      `TRUST_PROXY must be true, false or comma-separated proxy addresses/CIDRs (got "${raw}")`,
    );
    return false;
  }
  return entries.join(',');
}

/** `TENANT_BASE_DOMAIN`: a bare host name (`example.com`, or `localhost` for development), no scheme or port. */
function resolveBaseDomain(read: EnvReader): string | null {
  const raw = read.string('TENANT_BASE_DOMAIN', null);
  if (raw === null) return null;
  const host = canonicalHostname(raw);
  if (host === null || raw.endsWith('.')) {
    read.problems.push(
      `TENANT_BASE_DOMAIN must be a host name such as example.com, without scheme or port (got "${raw}")`,
    );
    return null;
  }
  return host;
}

/** /metrics is outside the rate limits, so a guessable token would be brute-forced: ask for a long one. */
function resolveMetricsToken(read: EnvReader): string | null {
  const token = read.string('METRICS_TOKEN', null);
  if (token !== null && token.length < MIN_METRICS_TOKEN_LENGTH) {
    read.problems.push(
      `METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_LENGTH} characters (got ${token.length})`,
    );
  }
  return token;
}

/**
 * Production must be given a strong key. Development generates one once and keeps it in DATA_DIR,
 * so tokens survive restarts without any setup.
 */
function resolveSecretKey(read: EnvReader, nodeEnv: Config['nodeEnv'], dataDir: string): string {
  const given = read.string('SECRET_KEY', null);
  if (given !== null) {
    if (given.length < MIN_SECRET_LENGTH) {
      read.problems.push(`SECRET_KEY must be at least ${MIN_SECRET_LENGTH} characters (got ${given.length})`);
    }
    return given;
  }
  if (nodeEnv === 'production') {
    read.problems.push(
      `SECRET_KEY is required in production (at least ${MIN_SECRET_LENGTH} characters; e.g. \`openssl rand -base64 48\`)`,
    );
    return '';
  }
  const file = join(dataDir, 'secret_key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(48).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}
