import { SYSTEM_SOURCE } from '../../modules/audit/audit-event.js';
import type { Organization, OrganizationStatus } from '../../db/core-schema.js';
import { AppError } from '../../errors.js';
import { isPlacementKind } from '../../tenancy/placement/placement.js';
import { parseTenantHeader } from '../../tenancy/routing/tenant-header.js';
import { Option, type Command } from 'commander';
import { withCliContext, type CliContext } from '../cli-context.js';
import { CliError, EXIT } from '../cli-error.js';
import { concurrency, leaf, wholeNumber } from '../command.js';
import { registerTenantMoves } from './tenant-moves.js';
import { createOutput, table, type Output } from '../output.js';
import {
  jobFor,
  runOnTenants,
  RUNNABLE_STATUSES,
  scriptJob,
  type TenantJob,
  type TenantOutcome,
} from '../tenant-runner.js';

const COLUMNS = [
  'id',
  'slug',
  'name',
  'status',
  'owner_id',
  'placement',
  'tenant_db_name',
  'schema_version',
  'migration_state',
] as const;

function view(org: Organization) {
  return {
    id: org.id,
    slug: org.slug,
    name: org.name,
    status: org.status,
    owner_id: org.owner_id,
    placement: org.placement_kind,
    server: org.placement,
    tenant_db_name: org.tenant_db_name,
    tenant_schema: org.tenant_schema,
    schema_version: org.schema_version,
    migration_state: org.migration_state,
    migration_error: org.migration_error,
    // Only meaningful while provisioning (or after it failed): an active organization's step is history.
    provisioning_step:
      org.status === 'provisioning' || org.status === 'failed' ? org.provisioning_step : null,
    provisioning_error: org.provisioning_error,
    allow_signup: org.allow_signup,
    created_at: org.created_at.toISOString(),
  };
}

export async function find(context: CliContext, ref: string | undefined): Promise<Organization> {
  if (!ref) throw new CliError('Name the organization: <id|slug>', EXIT.USAGE);
  let parsed;
  try {
    parsed = parseTenantHeader(ref);
  } catch {
    throw new CliError(`"${ref}" is neither an organization id nor a slug`, EXIT.USAGE);
  }
  const org = await context.organizations.findLive(parsed);
  if (!org) throw new CliError(`No organization "${ref}"`, EXIT.NOT_FOUND);
  return org;
}

async function setStatus(
  context: CliContext,
  ref: string | undefined,
  from: 'active' | 'suspended',
  to: 'active' | 'suspended',
) {
  const org = await find(context, ref);
  if (org.status === to) return org;
  if (org.status !== from)
    throw new CliError(`Organization ${org.id} is ${org.status}, not ${from}`, EXIT.FAILED);
  // The change and its audit event commit together.
  const updated = await context.organizations.transaction(async (trx) => {
    const row = await context.organizations.setStatus(org.id, from, to, trx);
    if (row) {
      await context.audit.core(
        SYSTEM_SOURCE,
        {
          action: to === 'suspended' ? 'organization.suspended' : 'organization.resumed',
          target: { type: 'organization', id: org.id },
          organizationId: org.id,
          ownerUserId: org.owner_id,
          detail: { via: 'cli' },
        },
        trx,
      );
    }
    return row;
  });
  if (!updated) throw new CliError(`Organization ${org.id} changed meanwhile; try again`, EXIT.FAILED);
  context.invalidate(org.id, org.slug);
  return updated;
}

const STATUSES: readonly OrganizationStatus[] = ['provisioning', 'active', 'suspended', 'deleting', 'failed'];

const NOTIFY = `
With REDIS_URL set, running servers learn of suspend/resume/delete at once; otherwise within TENANT_CACHE_TTL_MS.`;

interface TargetOptions {
  all?: boolean;
  statementTimeout: number;
  status?: OrganizationStatus;
  concurrency?: number;
}

/** The organizations named (all must exist), or every live one with --all; narrowed by --status. */
async function targets(context: CliContext, refs: string[], options: TargetOptions): Promise<Organization[]> {
  if (options.all === true && refs.length > 0)
    throw new CliError('Name organizations or pass --all, not both', EXIT.USAGE);
  if (options.all !== true && refs.length === 0)
    throw new CliError('Name the organizations (<id|slug> ...) or pass --all', EXIT.USAGE);
  if (options.all === true) {
    if (options.status) return context.organizations.listLive(options.status);
    return (await context.organizations.listLive()).filter((org) => RUNNABLE_STATUSES.includes(org.status));
  }
  const orgs: Organization[] = [];
  for (const ref of refs) {
    const org = await find(context, ref);
    if (!orgs.some((known) => known.id === org.id)) orgs.push(org);
  }
  return options.status ? orgs.filter((org) => org.status === options.status) : orgs;
}

/** Shared by exec and seed: runs the job, progress on stderr, the per-tenant summary, exit 1 if any failed. */
async function runJob(
  context: CliContext,
  refs: string[],
  options: TargetOptions,
  job: TenantJob,
  out: Output,
): Promise<number> {
  const orgs = await targets(context, refs, options);
  const progress = createOutput(false, process.stderr);
  const began = performance.now();
  const outcomes = await runOnTenants(context, orgs, job, {
    concurrency: options.concurrency ?? (context.store.engine === 'pglite' ? 1 : 4),
    onTenant: (outcome, done, total) => {
      if (!outcome.ok)
        process.stderr.write(`tenant ${outcome.id} (${outcome.slug}) FAILED: ${outcome.error ?? ''}\n`);
      progress.progress(done, total, outcome.ok ? undefined : `${outcome.slug} failed`);
    },
  });
  const failed = outcomes.filter((o) => !o.ok);
  const summary = {
    total: outcomes.length,
    ok: outcomes.length - failed.length,
    failed: failed.length,
    durationMs: Math.round(performance.now() - began),
    tenants: outcomes,
  };
  out.result(summary, () => summaryText(outcomes, summary.durationMs));
  return failed.length > 0 ? EXIT.FAILED : EXIT.OK;
}

function summaryText(outcomes: TenantOutcome[], durationMs: number): string {
  const failed = outcomes.filter((o) => !o.ok).length;
  if (outcomes.length === 0) return 'no tenant matched';
  return [
    table([
      ['id', 'slug', 'result', 'ms', 'detail'],
      ...outcomes.map((o) => [
        o.id,
        o.slug,
        o.ok ? 'ok' : 'FAILED',
        o.durationMs,
        o.ok ? (o.result === undefined ? '' : JSON.stringify(o.result)) : (o.error ?? ''),
      ]),
    ]),
    `${outcomes.length} tenant(s): ${outcomes.length - failed} ok, ${failed} failed, in ${(durationMs / 1000).toFixed(2)} s`,
  ].join('\n');
}

/** A job's statements are bounded by --statement-timeout only (not by the server's request and DDL bounds). */
function timeouts(options: TargetOptions): Record<string, string> {
  const ms = String(options.statementTimeout);
  return { DATABASE_QUERY_TIMEOUT_MS: ms, DATABASE_DDL_TIMEOUT_MS: ms };
}

function targetOptions(command: Command): Command {
  return command
    .option('--all', 'every organization whose database is ready (active and suspended)')
    .option(
      '--statement-timeout <ms>',
      'cut any statement running longer than this (0: no limit)',
      wholeNumber(0, 600_000),
      0,
    )
    .addOption(
      new Option('--status <status>', 'only organizations in this status').choices(RUNNABLE_STATUSES),
    )
    .option(
      '--concurrency <n>',
      'tenants worked on at once (default: 4 on PostgreSQL, 1 on PGlite)',
      concurrency,
    );
}

export function registerTenants(program: Command): void {
  const tenants = program
    .command('tenants')
    .summary(
      'list, show, create, suspend, resume, delete, move, export and import organizations; run SQL, scripts and seeds on them',
    )
    .description('Manage organizations (tenants) and run work on their databases.')
    .addHelpText('after', `${NOTIFY}\nExit codes: 0 done, 1 failed, 2 bad usage, 4 no such organization.`);

  leaf<{ status?: OrganizationStatus }, []>(
    tenants,
    'list',
    'every organization (not deleted)',
    (command) => command.addOption(new Option('--status <status>', 'only this status').choices(STATUSES)),
    async ({ options, out }) =>
      withCliContext(async (context) => {
        const rows = (await context.organizations.listLive(options.status)).map(view);
        out.result(rows, () => table([[...COLUMNS], ...rows.map((row) => COLUMNS.map((c) => row[c]))]));
        return EXIT.OK;
      }),
  );

  leaf<object, [string]>(
    tenants,
    'show <id|slug>',
    'one organization, with its provisioning and migration state',
    (command) => command,
    async ({ args: [ref], out }) =>
      withCliContext(async (context) => {
        const org = view(await find(context, ref));
        out.result(org, () =>
          Object.entries(org)
            .map(([k, v]) => `${k}: ${v === null ? '-' : String(v)}`)
            .join('\n'),
        );
        return EXIT.OK;
      }),
  );

  leaf<{ name: string; owner: string; slug?: string; placement?: string }, []>(
    tenants,
    'create',
    'create and provision an organization for a core owner',
    (command) =>
      command
        .requiredOption('--name <name>', "the organization's name")
        .requiredOption('--owner <email>', 'a core account with is_owner')
        .option('--slug <slug>', 'its slug (default: from the name)')
        .option(
          '--placement <dedicated|shared>',
          'its own database, or a schema in a shared one (default: TENANT_PLACEMENT)',
        ),
    async ({ options, out }) => {
      const name = options.name.trim();
      const ownerEmail = options.owner.trim().toLowerCase();
      if (!name || !ownerEmail) throw new CliError('tenants create needs --name and --owner', EXIT.USAGE);
      return withCliContext(async (context) => {
        const placement = options.placement ?? context.config.tenantPlacement;
        if (!isPlacementKind(placement)) {
          throw new CliError(`--placement must be dedicated or shared (got "${placement}")`, EXIT.USAGE);
        }
        const owner = await context.core.db
          .selectFrom('core_users')
          .selectAll()
          .where('email', '=', ownerEmail)
          .executeTakeFirst();
        if (!owner?.is_owner) throw new CliError(`No core owner account ${ownerEmail}`, EXIT.NOT_FOUND);
        let org: Organization;
        try {
          org = await context.organizations.insertWithSlug(owner.id, name, options.slug, {
            placement,
            onInsert: (trx, created) =>
              context.audit.core(
                SYSTEM_SOURCE,
                {
                  action: 'organization.created',
                  target: { type: 'organization', id: created.id },
                  organizationId: created.id,
                  ownerUserId: created.owner_id,
                  detail: { name: created.name, slug: created.slug, placement, via: 'cli' },
                },
                trx,
              ),
          });
        } catch (error) {
          if (error instanceof AppError) throw new CliError(error.message, EXIT.FAILED);
          throw error;
        }
        const provisioned = view(await context.provisioner.provision(org.id));
        context.invalidate(org.id, org.slug);
        out.result(
          provisioned,
          () => `created organization ${provisioned.id} (${provisioned.slug}), ${provisioned.status}`,
        );
        return EXIT.OK;
      });
    },
  );

  for (const [action, from, to, summary] of [
    ['suspend', 'active', 'suspended', 'requests to it answer 403 TENANT_SUSPENDED'],
    ['resume', 'suspended', 'active', 'back to active'],
  ] as const) {
    leaf<object, [string]>(
      tenants,
      `${action} <id|slug>`,
      summary,
      (command) => command.addHelpText('after', NOTIFY),
      async ({ args: [ref], out }) =>
        withCliContext(async (context) => {
          const org = view(await setStatus(context, ref, from, to));
          out.result(org, () => `organization ${org.id} (${org.slug}) is ${org.status}`);
          return EXIT.OK;
        }),
    );
  }

  leaf<object, [string]>(
    tenants,
    'delete <id|slug>',
    'drop its database (shared: its schema and role); its id and slug then answer 404',
    (command) => command.addHelpText('after', NOTIFY),
    async ({ args: [ref], out }) =>
      withCliContext(async (context) => {
        const org = await find(context, ref);
        context.invalidate(org.id, org.slug);
        await context.provisioner.deprovision(org.id);
        context.invalidate(org.id, org.slug);
        await context.audit.core(SYSTEM_SOURCE, {
          action: 'organization.deleted',
          target: { type: 'organization', id: org.id },
          organizationId: org.id,
          ownerUserId: org.owner_id,
          detail: { slug: org.slug, via: 'cli' },
        });
        out.result(
          { id: org.id, slug: org.slug, status: 'deleted' },
          () => `organization ${org.id} (${org.slug}) deleted`,
        );
        return EXIT.OK;
      }),
  );

  registerTenantMoves(tenants);

  leaf<TargetOptions, [string, string[]]>(
    tenants,
    'exec <file> [tenants...]',
    'run a SQL file or a script module against some or all tenants',
    (command) =>
      targetOptions(command).addHelpText(
        'after',
        `
<file> ending in .sql is run as one statement batch in a transaction per tenant (a failing statement leaves
that tenant unchanged). A script module (.js, .mjs, .ts, .mts) exports
  export default async function (db, tenant) { ... }
and is called once per tenant with a Kysely handle bound to that tenant's tables (a dedicated database, or a
shared tenant's schema and role) and { id, slug, name, status, placement }; what it returns is shown in the
summary. Tenants are named by id or slug, or --all. A failing tenant is reported and the run goes on.
Statements are not bounded in time (as for migrations) unless --statement-timeout is given.
Progress goes to stderr; the per-tenant summary to stdout (--json: one document).
Exit codes: 0 every tenant ok, 1 some tenant failed, 2 bad usage, 4 a named organization does not exist.

Examples:
  tenantry tenants exec fix.sql acme 42
  tenantry tenants exec --all --status active --concurrency 4 scripts/backfill.ts`,
      ),
    async ({ args: [file, refs], options, out }) => {
      const job = await jobFor(file);
      return withCliContext((context) => runJob(context, refs, options, job, out), timeouts(options));
    },
  );

  leaf<TargetOptions, [string, string[]]>(
    tenants,
    'seed <module> [tenants...]',
    'run a seed (demo or development data) against some or all tenants',
    (command) =>
      targetOptions(command).addHelpText(
        'after',
        `
A seed is a script module like those of \`tenants exec\`:
  export default async function (db, tenant) { ... }
meant for demo and development data. Seeds must be idempotent: running one twice must leave the same data
(insert ... on conflict do nothing, or check before inserting), so a seed can be rerun after a failure or on
every tenant including those seeded before. Runs as tenants exec does (targets, --concurrency, progress on
stderr, per-tenant summary, exit 1 if any tenant failed).

Example:
  tenantry tenants seed --all scripts/seeds/demo-users.ts`,
      ),
    async ({ args: [module, refs], options, out }) => {
      const job = await scriptJob(module);
      return withCliContext((context) => runJob(context, refs, options, job, out), timeouts(options));
    },
  );
}
