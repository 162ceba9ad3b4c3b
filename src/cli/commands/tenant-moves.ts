import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { AppError } from '../../errors.js';
import { ExportFileError } from '../../tenancy/lifecycle/tenant-export.js';
import { ImportRefusedError, TenantTransfer } from '../../tenancy/lifecycle/tenant-import.js';
import { MoveRefusedError, type MoveResult } from '../../tenancy/lifecycle/tenant-mover.js';
import { isPlacementKind, PLACEMENT_KINDS, type PlacementKind } from '../../tenancy/placement/placement.js';
import { DEFAULT_SERVER_NAME, UnknownServerError } from '../../tenancy/servers/server-directory.js';
import { withCliContext, type CliContext } from '../cli-context.js';
import { CliError, EXIT } from '../cli-error.js';
import { leaf } from '../command.js';
import { find } from './tenants.js';

/** Refusals the CLI reports as one line: the tenant is left as it was. */
function refusal(error: unknown): never {
  if (
    error instanceof MoveRefusedError ||
    error instanceof ImportRefusedError ||
    error instanceof ExportFileError
  )
    throw new CliError(error.message, EXIT.FAILED);
  if (error instanceof UnknownServerError) throw new CliError(error.message, EXIT.USAGE);
  if (error instanceof AppError) throw new CliError(error.message, EXIT.FAILED);
  throw error;
}

function transfer(context: CliContext): TenantTransfer {
  return new TenantTransfer({
    organizations: context.organizations,
    provisioner: context.provisioner,
    storage: context.storage,
    tenantUsers: context.tenantUsers,
    log: context.log,
  });
}

function movedText(result: MoveResult): string {
  return `organization ${result.id} moved: ${result.from} → ${result.to}, ${result.rows} rows, unavailable ${result.unavailableMs} ms`;
}

/** `tenants move`, `tenants export`, `tenants import` (under `tenants`). */
export function registerTenantMoves(tenants: Command): void {
  leaf<{ to?: PlacementKind; toServer?: string; resume?: boolean }, [string]>(
    tenants,
    'move <id|slug>',
    'move an organization to another placement (dedicated ↔ shared) or tenant server',
    (command) =>
      command
        .addOption(new Option('--to <placement>', 'dedicated or shared').choices(PLACEMENT_KINDS))
        .option(
          '--to-server <name>',
          `a registered tenant server by name (see servers list; ${DEFAULT_SERVER_NAME}: the configured one)`,
        )
        .option('--resume', 'carry a move left half-done (a crash) forward instead of starting one')
        .addHelpText(
          'after',
          `
The data (schema, rows, sequences) is copied to the new placement, the organization's row is switched to it in
one update, then the old copy is dropped. From the start of the move to the switch the organization answers
503 with Retry-After in every server process (with REDIS_URL at once, otherwise within TENANT_CACHE_TTL_MS);
its old copy refuses writes from then on, so no write answered 2xx is lost. Each step is recorded on the
organization's row: after a crash, \`tenants move --resume <id>\` finishes the move, and \`provision:reconcile\`
rolls it back (before the switch) or finishes it (after it); either way exactly one copy is left.
With the embedded database, stop the server first (it holds the databases open).

Examples:
  tenantry tenants move acme --to dedicated
  tenantry tenants move 42 --to shared --to-server default
  tenantry tenants move 42 --resume`,
        ),
    async ({ args: [ref], options, out }) => {
      if (options.resume && (options.to || options.toServer))
        throw new CliError('--resume takes no --to or --to-server', EXIT.USAGE);
      if (!options.resume && !options.to && !options.toServer)
        throw new CliError('Say where: --to dedicated|shared and/or --to-server <name>', EXIT.USAGE);
      return withCliContext(async (context) => {
        const org = await find(context, ref);
        let result: MoveResult;
        try {
          result = options.resume
            ? await context.mover.resume(org.id)
            : await context.mover.move(org.id, {
                ...(options.to ? { kind: options.to } : {}),
                ...(options.toServer ? { server: options.toServer } : {}),
              });
        } catch (error) {
          refusal(error);
        }
        out.result(result, () => movedText(result));
        return EXIT.OK;
      });
    },
  );

  leaf<{ out?: string }, [string]>(
    tenants,
    'export <id|slug>',
    "write an organization's data (rows, sequences, schema version) to one portable file",
    (command) =>
      command
        .option('--out <file>', 'the file to write (must not exist; default: <slug>.tenant.jsonl)')
        .addHelpText(
          'after',
          `
The file is JSON Lines: a header (format, the tenant schema version, the tables), the rows of each table as
PostgreSQL renders them to JSON, then the sequences' states. It reads back on either engine with
\`tenants import\`. The rows are read in one snapshot while the organization keeps answering.`,
        ),
    async ({ args: [ref], options, out }) =>
      withCliContext(async (context) => {
        const org = await find(context, ref);
        if (org.status !== 'active' && org.status !== 'suspended')
          throw new CliError(`Organization ${org.id} is ${org.status}: nothing to export`, EXIT.FAILED);
        const file = resolve(options.out ?? `${org.slug}.tenant.jsonl`);
        let rows: number;
        try {
          rows = await transfer(context).exportTo(org, file);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST')
            throw new CliError(`${file} exists already`, EXIT.USAGE);
          refusal(error);
        }
        out.result(
          { id: org.id, file, rows },
          () => `exported organization ${org.id} (${rows} rows) to ${file}`,
        );
        return EXIT.OK;
      }),
  );

  leaf<{ name: string; owner: string; slug?: string; placement?: string }, [string]>(
    tenants,
    'import <file>',
    'create an organization from an export file (either engine)',
    (command) =>
      command
        .requiredOption('--name <name>', "the new organization's name")
        .requiredOption('--owner <email>', 'a core account with is_owner: the new owner')
        .option('--slug <slug>', 'its slug (default: from the name)')
        .option('--placement <dedicated|shared>', 'its placement (default: TENANT_PLACEMENT)')
        .addHelpText(
          'after',
          `
The new organization gets a new id; its tenant users, their ids and every other row are as exported, and its
sequences continue after the exported ones. The owner: links to the exporting deployment's core users are
cleared; the tenant user whose email is the --owner's becomes the owner-linked user (role owner, active), or
the owner is added as a new tenant user if there is none. An export whose tenant schema is newer than this
build knows is refused.`,
        ),
    async ({ args: [file], options, out }) => {
      const name = options.name.trim();
      const ownerEmail = options.owner.trim().toLowerCase();
      if (!name || !ownerEmail) throw new CliError('tenants import needs --name and --owner', EXIT.USAGE);
      return withCliContext(async (context) => {
        const placement = options.placement ?? context.config.tenantPlacement;
        if (!isPlacementKind(placement))
          throw new CliError(`--placement must be dedicated or shared (got "${placement}")`, EXIT.USAGE);
        const owner = await context.core.db
          .selectFrom('core_users')
          .select(['id', 'email', 'is_owner'])
          .where('email', '=', ownerEmail)
          .executeTakeFirst();
        if (!owner?.is_owner) throw new CliError(`No core owner account ${ownerEmail}`, EXIT.NOT_FOUND);
        let result;
        try {
          result = await transfer(context).importFile(resolve(file), {
            name,
            owner: { id: owner.id, email: owner.email },
            placement,
            ...(options.slug ? { slug: options.slug } : {}),
          });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT')
            throw new CliError(`No file ${file}`, EXIT.USAGE);
          refusal(error);
        }
        context.invalidate(result.organization.id, result.organization.slug);
        const { organization, rows } = result;
        out.result(
          { id: organization.id, slug: organization.slug, rows, schema_version: result.schemaVersion },
          () => `imported organization ${organization.id} (${organization.slug}) with ${rows} rows`,
        );
        return EXIT.OK;
      });
    },
  );
}
