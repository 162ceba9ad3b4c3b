import type { Organization } from '../../db/core-schema.js';
import { AppError } from '../../errors.js';
import { isPlacementKind } from '../../tenancy/placement/placement.js';
import { parseTenantHeader } from '../../tenancy/routing/tenant-header.js';
import { withCliContext, type CliContext } from '../cli-context.js';
import { CliError, EXIT } from '../cli-error.js';
import { stringOption, type Command } from '../command.js';
import { table } from '../output.js';

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

async function find(context: CliContext, ref: string | undefined): Promise<Organization> {
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
  const updated = await context.organizations.setStatus(org.id, from, to);
  if (!updated) throw new CliError(`Organization ${org.id} changed meanwhile; try again`, EXIT.FAILED);
  context.invalidate(org.id, org.slug);
  return updated;
}

export const tenants: Command = {
  name: 'tenants',
  summary: 'list, show, create, suspend, resume or delete organizations',
  help: `Usage: tenantry tenants <list|show|create|suspend|resume|delete> [...] [--json]

  tenants list [--status S]                       every organization (not deleted)
  tenants show <id|slug>                          one organization, with its provisioning and migration state
  tenants create --name N --owner <email> [--slug S] [--placement dedicated|shared]
                                                  create and provision an organization for a core owner
                                                  (placement: TENANT_PLACEMENT unless given)
  tenants suspend <id|slug>                       requests to it answer 403 TENANT_SUSPENDED
  tenants resume <id|slug>                        back to active
  tenants delete <id|slug>                        drop its database (shared: its schema and role); its id
                                                  and slug then answer 404

With REDIS_URL set, running servers learn of suspend/resume/delete at once; otherwise within TENANT_CACHE_TTL_MS.
Exit codes: 0 done, 1 failed, 2 bad usage, 4 no such organization.`,
  options: {
    status: { type: 'string' },
    name: { type: 'string' },
    owner: { type: 'string' },
    slug: { type: 'string' },
    placement: { type: 'string' },
  },
  async run({ values, positionals, out }) {
    const [action, ref] = positionals;
    return withCliContext(async (context) => {
      switch (action) {
        case 'list': {
          const status = stringOption(values, 'status');
          const rows = (
            await context.organizations.listLive(status as Organization['status'] | undefined)
          ).map(view);
          out.result(rows, () => table([[...COLUMNS], ...rows.map((row) => COLUMNS.map((c) => row[c]))]));
          return EXIT.OK;
        }
        case 'show': {
          const org = view(await find(context, ref));
          out.result(org, () =>
            Object.entries(org)
              .map(([k, v]) => `${k}: ${v === null ? '-' : String(v)}`)
              .join('\n'),
          );
          return EXIT.OK;
        }
        case 'create': {
          const name = stringOption(values, 'name')?.trim();
          const ownerEmail = stringOption(values, 'owner')?.trim().toLowerCase();
          const slug = stringOption(values, 'slug');
          if (!name || !ownerEmail) throw new CliError('tenants create needs --name and --owner', EXIT.USAGE);
          const placement = stringOption(values, 'placement') ?? context.config.tenantPlacement;
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
            org = await context.organizations.insertWithSlug(owner.id, name, slug, {
              placement,
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
        }
        case 'suspend':
        case 'resume': {
          const org = view(
            action === 'suspend'
              ? await setStatus(context, ref, 'active', 'suspended')
              : await setStatus(context, ref, 'suspended', 'active'),
          );
          out.result(org, () => `organization ${org.id} (${org.slug}) is ${org.status}`);
          return EXIT.OK;
        }
        case 'delete': {
          const org = await find(context, ref);
          context.invalidate(org.id, org.slug);
          await context.provisioner.deprovision(org.id);
          context.invalidate(org.id, org.slug);
          out.result(
            { id: org.id, slug: org.slug, status: 'deleted' },
            () => `organization ${org.id} (${org.slug}) deleted`,
          );
          return EXIT.OK;
        }
        default:
          throw new CliError(`tenants needs one of list, show, create, suspend, resume, delete`, EXIT.USAGE);
      }
    });
  },
};
