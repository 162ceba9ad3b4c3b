import { Option, type Command } from 'commander';
import { FleetLockedError, FleetMigrator } from '../../tenancy/fleet/fleet-migrator.js';
import { withCliContext } from '../cli-context.js';
import { CliError, EXIT } from '../cli-error.js';
import { concurrency, leaf } from '../command.js';
import { table } from '../output.js';

function busy(error: unknown): never {
  if (error instanceof FleetLockedError) throw new CliError(error.message, EXIT.BUSY);
  throw error;
}

export function registerMigrate(program: Command): void {
  leaf<{ tenant?: string; concurrency?: number; dryRun?: boolean }, []>(
    program,
    'migrate',
    'migrate the core, the tenant template and every tenant that is behind',
    (command) =>
      command
        .option('--tenant <id|slug>', 'only this organization')
        .option(
          '--concurrency <n>',
          'tenants migrated at once (default: 8 on PostgreSQL, 1 on PGlite)',
          concurrency,
        )
        .option('--dry-run', 'list the tenants that would be migrated; change nothing')
        .addHelpText(
          'after',
          `
Applies pending core migrations, brings the tenant template to the latest tenant migration, then migrates every
active or suspended tenant whose recorded schema version is behind, N at a time. Tenants already at the latest
version are skipped without opening a connection. A failing tenant is recorded (see migrate:status) and the run
goes on; rerun after a fix to resume only what is still behind. Only one run at a time per core database.

Exit codes: 0 all done, 1 some tenant failed, 2 bad usage or configuration, 3 another run holds the lock.`,
        ),
    async ({ options, out }) => {
      const dryRun = options.dryRun === true;
      return withCliContext(async ({ core, storage, organizations }) => {
        const fleet = new FleetMigrator(core, storage, organizations);
        const report = await fleet
          .migrate({
            ...(options.concurrency ? { concurrency: options.concurrency } : {}),
            ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
            dryRun,
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
          if (dryRun) {
            lines.push(`would migrate ${report.planned.length} tenant(s), ${report.skipped} up to date`);
            if (report.planned.length) {
              lines.push(
                table([['id', 'slug', 'from'], ...report.planned.map((p) => [p.id, p.slug, p.from])]),
              );
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
  );

  leaf<object, []>(
    program,
    'migrate:status',
    'core version, tenants grouped by schema version and state, failures',
    (command) =>
      command.addHelpText(
        'after',
        `
Shows the core migrations applied and pending, the latest tenant migration, tenants grouped by schema version,
migration state and status, and every tenant whose last migration failed. Opens no tenant database.
Exit code 1 when some tenant is behind or failed, so it can gate a deploy.`,
      ),
    async ({ out }) =>
      withCliContext(async ({ core, storage, organizations }) => {
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
      }),
  );

  leaf<{ scope: 'core' | 'tenant'; tenant?: string; to?: string; concurrency?: number }, []>(
    program,
    'migrate:down',
    'roll back the core or tenants one migration, or to a named one',
    (command) =>
      command
        .addOption(
          new Option('--scope <scope>', 'what to roll back')
            .choices(['core', 'tenant'])
            .makeOptionMandatory(),
        )
        .option('--tenant <id|slug>', 'only this organization (with --scope tenant)')
        .option('--to <migration|none>', 'roll back down to this migration, exclusive ("none": everything)')
        .option('--concurrency <n>', 'tenants rolled back at once', concurrency)
        .addHelpText(
          'after',
          `
Rolls back one migration (or down to --to, exclusive: that migration stays applied; "none" rolls back
everything) with each migration's down step. With --scope tenant it applies to every active or suspended tenant,
or only --tenant, and records each tenant's new schema version. The tenant template stays at the latest
migration of the code: deploy the matching code before creating organizations.`,
        ),
    async ({ options, out }) => {
      const { scope, to, tenant } = options;
      if (scope === 'core' && tenant !== undefined)
        throw new CliError('--tenant goes with --scope tenant', EXIT.USAGE);
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
            ...(options.concurrency ? { concurrency: options.concurrency } : {}),
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
  );
}
