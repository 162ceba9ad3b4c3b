import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql, type Kysely } from 'kysely';
import type { Organization } from '../db/core-schema.js';
import type { TenantDatabase } from '../db/tenant-schema.js';
import { placementFromRow } from '../tenancy/placement/placement.js';
import type { CliContext } from './cli-context.js';
import { CliError, EXIT } from './cli-error.js';

/** What a script module (for `tenants exec` and `tenants seed`) gets besides the handle: the tenant it runs on. */
export interface TenantInfo {
  id: number;
  slug: string;
  name: string;
  status: Organization['status'];
  placement: Organization['placement_kind'];
}

/** A script module's default export. */
export type TenantScript = (db: Kysely<TenantDatabase>, tenant: TenantInfo) => unknown;

/** One unit of work per tenant: run on the tenant's handle, returns what the summary shows for it. */
export type TenantJob = (db: Kysely<TenantDatabase>, tenant: TenantInfo) => Promise<unknown>;

export interface TenantOutcome {
  id: number;
  slug: string;
  ok: boolean;
  /** With ok: a SQL file's affected rows, or what a script returned (when JSON-serializable). */
  result?: unknown;
  error?: string;
  durationMs: number;
}

const SCRIPT_EXTENSIONS = new Set(['.js', '.mjs', '.ts', '.mts']);

function readable(path: string): string {
  const absolute = resolve(path);
  if (!existsSync(absolute)) throw new CliError(`No file ${path}`, EXIT.USAGE);
  return absolute;
}

/**
 * A SQL file as a job: the whole file as one statement batch (simple query protocol, so several statements
 * separated by semicolons), inside a transaction per tenant: a failing statement leaves that tenant unchanged.
 */
export function sqlJob(path: string): TenantJob {
  const text = readFileSync(readable(path), 'utf8');
  if (!text.trim()) throw new CliError(`${path} is empty`, EXIT.USAGE);
  return async (db) =>
    db.transaction().execute(async (trx) => {
      const result = await sql.raw(text).execute(trx);
      return result.numAffectedRows === undefined
        ? { rows: result.rows.length }
        : { rows: result.rows.length, affected: Number(result.numAffectedRows) };
    });
}

/** A script module (`export default async function (db, tenant) {}`) as a job. */
export async function scriptJob(path: string): Promise<TenantJob> {
  const extension = extname(path);
  if (!SCRIPT_EXTENSIONS.has(extension)) {
    throw new CliError(
      `${path}: a script module ends in ${[...SCRIPT_EXTENSIONS].join(', ')} (a SQL file in .sql)`,
      EXIT.USAGE,
    );
  }
  const module = (await import(pathToFileURL(readable(path)).href)) as { default?: unknown };
  if (typeof module.default !== 'function') {
    throw new CliError(`${path} must export a default function (db, tenant) => ...`, EXIT.USAGE);
  }
  const script = module.default as TenantScript;
  return async (db, tenant) => {
    const value = await script(db, tenant);
    try {
      return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
    } catch {
      return String(value);
    }
  };
}

/** The job for a file by its extension: `.sql` a SQL batch, else a script module. */
export async function jobFor(path: string): Promise<TenantJob> {
  return extname(path) === '.sql' ? sqlJob(path) : scriptJob(path);
}

/** Organizations whose storage is ready to run on. */
export const RUNNABLE_STATUSES: readonly Organization['status'][] = ['active', 'suspended'];

function infoOf(org: Organization): TenantInfo {
  return { id: org.id, slug: org.slug, name: org.name, status: org.status, placement: org.placement_kind };
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 2000);
}

/**
 * Runs `job` on each organization, at most `concurrency` at once, each in its own storage handle
 * (`TenantStorage.withTenant`: a dedicated database, or a shared tenant bound to its role and schema). A failure
 * is recorded and the run goes on; `onTenant` is told of each outcome as it ends.
 */
export async function runOnTenants(
  context: Pick<CliContext, 'storage' | 'store'>,
  orgs: readonly Organization[],
  job: TenantJob,
  options: { concurrency: number; onTenant?: (outcome: TenantOutcome, done: number, total: number) => void },
): Promise<TenantOutcome[]> {
  const outcomes: TenantOutcome[] = new Array<TenantOutcome>(orgs.length);
  let next = 0;
  let done = 0;
  const runOne = async (index: number) => {
    const org = orgs[index] as Organization;
    const began = performance.now();
    let outcome: TenantOutcome;
    try {
      if (!RUNNABLE_STATUSES.includes(org.status)) throw new Error(`it is ${org.status}, not ready`);
      const placement = placementFromRow(org, context.store.server);
      if (!placement) throw new Error('it has no database yet');
      const result = await context.storage.withTenant(placement, (db) => job(db, infoOf(org)));
      outcome = {
        id: org.id,
        slug: org.slug,
        ok: true,
        durationMs: 0,
        ...(result === undefined ? {} : { result }),
      };
    } catch (error) {
      outcome = { id: org.id, slug: org.slug, ok: false, error: errorText(error), durationMs: 0 };
    }
    outcome.durationMs = Math.round(performance.now() - began);
    outcomes[index] = outcome;
    options.onTenant?.(outcome, ++done, orgs.length);
  };
  const workers = Array.from(
    { length: Math.max(1, Math.min(options.concurrency, orgs.length)) },
    async () => {
      while (next < orgs.length) await runOne(next++);
    },
  );
  await Promise.all(workers);
  return outcomes;
}
