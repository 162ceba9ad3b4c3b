import { FleetLockedError, FleetMigrator } from '../../tenancy/fleet/fleet-migrator.js';
import { withCliContext } from '../cli-context.js';
import { CliError, EXIT } from '../cli-error.js';
import { stringOption, type Command } from '../command.js';
import { table } from '../output.js';

function concurrencyOf(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[1-9][0-9]{0,3}$/.test(raw))
    throw new CliError('--concurrency must be an integer from 1 to 9999', EXIT.USAGE);
  return Number(raw);
}

function busy(error: unknown): never {
  if (error instanceof FleetLockedError) throw new CliError(error.message, EXIT.BUSY);
  throw error;
}

export const migrate: Command = {
  name: 'migrate',
  summary: 'migrate the core, the tenant template and every tenant that is behind',
  help: `Usage: tenantry migrate [--tenant <id|slug>] [--concurrency N] [--dry-run] [--json]

Applies pending core migrations, brings the tenant template to the latest tenant migration, then migrates every
active or suspended tenant whose recorded schema version is behind, N at a time. Tenants already at the latest
version are skipped without opening a connection. A failing tenant is recorded (see migrate:status) and the run
goes on; rerun after a fix to resume only what is still behind. Only one run at a time per core database.

Options:
  --tenant <id|slug>   only this organization
  --concurrency N      tenants migrated at once (default: 8 on PostgreSQL, 1 on PGlite)
  --dry-run            list the tenants that would be migrated; change nothing

Exit codes: 0 all done, 1 some tenant failed, 2 bad usage or configuration, 3 another run holds the lock.`,
  options: {
    tenant: { type: 'string' },
    concurrency: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  },
  async run({ values, out }) {
    const concurrency = concurrencyOf(stringOption(values, 'concurrency'));
    const tenant = stringOption(values, 'tenant');
    return withCliContext(async ({ core, storage, organizations }) => {
      const fleet = new FleetMigrator(core, storage, organizations);
      const report = await fleet
        .migrate({
          ...(concurrency ? { concurrency } : {}),
          ...(tenant !== undefined ? { tenant } : {}),
          dryRun: values['dry-run'] === true,
          onTenant: (outcome, done, total) => {
            if (!outcome.ok)
              out.line(`tenant ${outcome.id} (${outcome.slug}) FAILED: ${outcome.error ?? ''}`);
            out.progress(done, total, outcome.ok ? undefined : `${outcome.slug} failed`);
          },
        })
        .catch(busy);
      out.result(report, () => {
        const lines = [
          `core: ${report.core.applied.length ? `applied ${report.core.applied.join(', ')}` : 'up to date'}`,
          `latest tenant migration: ${report.latest}`,
        ];
        if (values['dry-run'] === true) {
          lines.push(`would migrate ${report.planned.length} tenant(s), ${report.skipped} up to date`);
          if (report.planned.length) {
            lines.push(table([['id', 'slug', 'from'], ...report.planned.map((p) => [p.id, p.slug, p.from])]));
          }
        } else {
          lines.push(
            `tenants: ${report.migrated.length} migrated, ${report.skipped} skipped (up to date), ` +
              `${report.failed.length} failed, in ${(report.durationMs / 1000).toFixed(2)} s`,
          );
          for (const failure of report.failed)
            lines.push(`  failed: ${failure.id} (${failure.slug}): ${failure.error}`);
        }
        return lines.join('\n');
      });
      return report.failed.length > 0 ? EXIT.FAILED : EXIT.OK;
    });
  },
};

export const migrateStatus: Command = {
  name: 'migrate:status',
  summary: 'core version, tenants grouped by schema version and state, failures',
  help: `Usage: tenantry migrate:status [--json]

Shows the core migrations applied and pending, the latest tenant migration, tenants grouped by schema version,
migration state and status, and every tenant whose last migration failed. Opens no tenant database.
Exit code 1 when some tenant is behind or failed, so it can gate a deploy.`,
  async run({ out }) {
    return withCliContext(async ({ core, storage, organizations }) => {
      const status = await new FleetMigrator(core, storage, organizations).status();
      out.result(status, () =>
        [
          `core: ${status.core.applied.length} applied${status.core.pending.length ? `, pending: ${status.core.pending.join(', ')}` : ', up to date'}`,
          `latest tenant migration: ${status.latest}`,
          `tenants behind or failed: ${status.behind}`,
          table([
            ['status', 'schema_version', 'state', 'count'],
            ...status.groups.map((g) => [g.status, g.schema_version, g.migration_state, g.count]),
          ]),
          ...status.failed.map((f) => `failed: ${f.id} (${f.slug}) at ${f.at ?? '?'}: ${f.error ?? ''}`),
        ].join('\n'),
      );
      return status.behind > 0 || status.core.pending.length > 0 ? EXIT.FAILED : EXIT.OK;
    });
  },
};

export const migrateDown: Command = {
  name: 'migrate:down',
  summary: 'roll back the core or tenants one migration, or to a named one',
  help: `Usage: tenantry migrate:down --scope core|tenant [--tenant <id|slug>] [--to <migration|none>] [--json]

Rolls back one migration (or down to --to, exclusive: that migration stays applied; "none" rolls back
everything) with each migration's down step. With --scope tenant it applies to every active or suspended tenant,
or only --tenant, and records each tenant's new schema version. The tenant template stays at the latest
migration of the code: deploy the matching code before creating organizations.`,
  options: {
    scope: { type: 'string' },
    tenant: { type: 'string' },
    to: { type: 'string' },
    concurrency: { type: 'string' },
  },
  async run({ values, out }) {
    const scope = stringOption(values, 'scope');
    if (scope !== 'core' && scope !== 'tenant')
      throw new CliError('--scope must be core or tenant', EXIT.USAGE);
    const to = stringOption(values, 'to');
    const tenant = stringOption(values, 'tenant');
    if (scope === 'core' && tenant !== undefined)
      throw new CliError('--tenant goes with --scope tenant', EXIT.USAGE);
    const concurrency = concurrencyOf(stringOption(values, 'concurrency'));
    return withCliContext(async ({ core, storage, organizations }) => {
      const fleet = new FleetMigrator(core, storage, organizations);
      if (scope === 'core') {
        const rolledBack = await fleet.rollbackCore(to === undefined ? {} : { to }).catch(busy);
        out.result({ core: { rolledBack } }, () =>
          rolledBack.length ? `core: rolled back ${rolledBack.join(', ')}` : 'core: nothing to roll back',
        );
        return EXIT.OK;
      }
      const result = await fleet
        .rollbackTenants({
          ...(tenant !== undefined ? { tenant } : {}),
          ...(to !== undefined ? { to } : {}),
          ...(concurrency ? { concurrency } : {}),
          onTenant: (_outcome, done, total) => out.progress(done, total),
        })
        .catch(busy);
      out.result(result, () =>
        [
          `tenants: ${result.rolledBack.length} rolled back, ${result.failed.length} failed`,
          ...result.rolledBack.map((r) => `  ${r.id} (${r.slug}) now at ${r.version ?? 'none'}`),
          ...result.failed.map((f) => `  failed: ${f.id} (${f.slug}): ${f.error}`),
        ].join('\n'),
      );
      return result.failed.length > 0 ? EXIT.FAILED : EXIT.OK;
    });
  },
};
